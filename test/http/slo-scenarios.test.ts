import { startTestCompter } from '../support/app-harness.js';
import { describeSloScenarios } from '../support/slo-scenarios.js';

describeSloScenarios('DuckDB', startTestCompter);
