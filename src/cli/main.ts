#!/usr/bin/env node
console.log('compter: work in progress');
