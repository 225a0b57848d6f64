#!/usr/bin/env node
// Writes deploy/kubernetes/prometheusrule.yaml: alerts/compter.rules.yml wrapped in a
// Prometheus Operator PrometheusRule, so the cluster runs exactly the rules promtool tests.
//   node deploy/kubernetes/generate-prometheusrule.mjs           write it
//   node deploy/kubernetes/generate-prometheusrule.mjs --check   exit 1 if it is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const rulesFile = join(here, '..', '..', 'alerts', 'compter.rules.yml');
const outFile = join(here, 'prometheusrule.yaml');

/** The PrometheusRule manifest for the given rule file text. */
export function prometheusRule(rulesText) {
  const { groups } = parse(rulesText);
  const manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'compter',
      labels: { 'app.kubernetes.io/name': 'compter', 'app.kubernetes.io/component': 'alerting' },
    },
    spec: { groups },
  };
  const header =
    '# Generated from alerts/compter.rules.yml by deploy/kubernetes/generate-prometheusrule.mjs.\n' +
    "# Do not edit: change the rules there and regenerate. Add the label your Prometheus's\n" +
    '# ruleSelector wants (often `release: <helm release>`) with kustomize.\n';
  // lineWidth 0: never fold, so PromQL and annotation text stay as written.
  return header + stringify(manifest, { lineWidth: 0 });
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const text = prometheusRule(readFileSync(rulesFile, 'utf8'));
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(outFile, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error('deploy/kubernetes/prometheusrule.yaml is stale: run node deploy/kubernetes/generate-prometheusrule.mjs');
      process.exit(1);
    }
    console.log('deploy/kubernetes/prometheusrule.yaml is up to date');
  } else {
    writeFileSync(outFile, text);
    console.log(`wrote ${outFile}`);
  }
}
