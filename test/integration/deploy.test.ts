/**
 * deploy/ without a container engine: every manifest parses, the pieces name each other
 * consistently (service names, ports, labels, mounted paths that exist in the repository),
 * the Kubernetes PrometheusRule is alerts/compter.rules.yml, the ConfigMap's compter.yaml
 * passes compter's own config check, promtool accepts the Prometheus config and rules, and
 * systemd-analyze accepts the unit.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { allDashboards } from '../../dashboards/src/index.js';
import { CLICKHOUSE_UID, PROMETHEUS_UID } from '../../dashboards/src/common.js';
import { readConfigFile } from '../../src/config.js';
import { requireBinary } from '../support/monitoring.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const deployDir = join(root, 'deploy');
const k8sDir = join(deployDir, 'kubernetes');
const scratch = mkdtempSync(join(tmpdir(), 'compter-deploy-test-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function yamlFile<T = Record<string, unknown>>(path: string): T {
  return parse(readFileSync(path, 'utf8')) as T;
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFilesUnder(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

interface ComposeService {
  build?: { context: string; dockerfile: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, unknown> | string[];
}

interface Compose {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

const compose = yamlFile<Compose>(join(deployDir, 'docker-compose.yml'));

/** The compose file's `source:target[:ro]` volume entries, split. */
function mounts(service: string): { source: string; target: string; isBind: boolean }[] {
  return (compose.services[service]?.volumes ?? []).map((v) => {
    const [source = '', target = ''] = v.split(':');
    return { source, target, isBind: source.startsWith('.') || source.startsWith('/') };
  });
}

function mountSource(service: string, target: string): string | undefined {
  const m = mounts(service).find((x) => x.target === target);
  return m?.isBind ? resolve(deployDir, m.source) : undefined;
}

describe('deploy/*: every YAML document parses', () => {
  const files = [...yamlFilesUnder(deployDir), ...yamlFilesUnder(join(root, 'dashboards', 'provisioning'))];

  it.each(files.map((f) => [f.slice(root.length + 1), f]))('%s', (_, file) => {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
    expect(errors).toEqual([]);
    expect(docs.length).toBeGreaterThan(0);
  });
});

describe('deploy/docker-compose.yml', () => {
  it('runs compter, ClickHouse, Prometheus, Alertmanager and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['alertmanager', 'clickhouse', 'compter', 'compter-2', 'grafana', 'prometheus']);
    // A current ClickHouse, not the 18.16 the tests run: compter's SQL targets both.
    expect(compose.services.clickhouse?.image).toMatch(/^clickhouse\/clickhouse-server:(2\d|latest)/);
  });

  it('points compter at the ClickHouse service and lets it listen on the compose network', () => {
    const env = compose.services.compter?.environment ?? {};
    expect(env.COMPTER_STORE).toBe('clickhouse');
    expect(env.COMPTER_CLICKHOUSE_URL).toBe('http://clickhouse:8123');
    expect(env.COMPTER_HOST).toBe('0.0.0.0');
    // Without tokens compter refuses 0.0.0.0 unless this is set (the file says why).
    expect(env.COMPTER_ALLOW_OPEN).toBe('1');
    const build = compose.services.compter?.build;
    expect(existsSync(resolve(deployDir, build!.context, build!.dockerfile))).toBe(true);
  });

  it('mounts only paths that exist in the repository, and declares its named volumes', () => {
    const missing: string[] = [];
    for (const name of Object.keys(compose.services)) {
      for (const m of mounts(name)) {
        if (m.isBind && !existsSync(resolve(deployDir, m.source))) missing.push(`${name}: ${m.source}`);
        if (!m.isBind && !(m.source in (compose.volumes ?? {}))) missing.push(`${name}: volume ${m.source} not declared`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('gives Prometheus the shipped rules at the path its config loads them from', () => {
    const config = yamlFile<{ rule_files: string[] }>(join(deployDir, 'prometheus', 'prometheus.yml'));
    const command = compose.services.prometheus?.command ?? [];
    const configPath = command.find((c) => c.startsWith('--config.file='))?.split('=')[1] ?? '';
    expect(mountSource('prometheus', configPath)).toBe(join(deployDir, 'prometheus', 'prometheus.yml'));
    expect(config.rule_files).toHaveLength(1);
    expect(mountSource('prometheus', config.rule_files[0]!)).toBe(join(root, 'alerts', 'compter.rules.yml'));
  });

  it('gives Alertmanager the shipped example config', () => {
    const command = compose.services.alertmanager?.command ?? [];
    const configPath = command.find((c) => c.startsWith('--config.file='))?.split('=')[1] ?? '';
    expect(mountSource('alertmanager', configPath)).toBe(join(root, 'alerts', 'alertmanager.example.yml'));
  });

  it('provisions Grafana with both data sources, the ClickHouse plugin and every dashboard', () => {
    const grafana = compose.services.grafana!;
    expect(grafana.environment?.GF_INSTALL_PLUGINS).toContain('grafana-clickhouse-datasource');
    expect(mountSource('grafana', '/etc/grafana/provisioning/datasources/compter.yml')).toBe(
      join(root, 'dashboards', 'provisioning', 'datasources.yml'),
    );
    expect(mountSource('grafana', '/etc/grafana/provisioning/dashboards/compter.yml')).toBe(
      join(root, 'dashboards', 'provisioning', 'dashboards.yml'),
    );
    const provider = yamlFile<{ providers: { options: { path: string } }[] }>(join(root, 'dashboards', 'provisioning', 'dashboards.yml'))
      .providers[0]!;
    for (const { file } of allDashboards()) {
      expect(mountSource('grafana', `${provider.options.path}/${file}`), file).toBe(join(root, 'dashboards', file));
    }
  });
});

describe('dashboards/provisioning/datasources.yml', () => {
  interface Datasource {
    name: string;
    uid: string;
    type: string;
    url?: string;
    jsonData?: Record<string, unknown>;
  }
  const { datasources } = yamlFile<{ datasources: Datasource[] }>(join(root, 'dashboards', 'provisioning', 'datasources.yml'));

  it('provisions Prometheus and ClickHouse under the uids the dashboards default to, at the compose services', () => {
    const prom = datasources.find((d) => d.type === 'prometheus');
    const ch = datasources.find((d) => d.type === 'grafana-clickhouse-datasource');
    expect(prom).toMatchObject({ uid: PROMETHEUS_UID, url: 'http://prometheus:9090' });
    expect(ch).toMatchObject({
      uid: CLICKHOUSE_UID,
      jsonData: { host: 'clickhouse', port: 8123, protocol: 'http', defaultDatabase: 'compter' },
    });
    const variables = allDashboards().flatMap(({ dashboard }) => (dashboard.templating?.list ?? []).filter((v) => v.type === 'datasource'));
    for (const v of variables) expect([PROMETHEUS_UID, CLICKHOUSE_UID], v.name).toContain(v.current?.value);
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  const config = yamlFile<{
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  }>(join(deployDir, 'prometheus', 'prometheus.yml'));

  it('scrapes compter as job "compter" (the rules depend on it) and alerts the compose Alertmanager', () => {
    const job = config.scrape_configs.find((j) => j.job_name === 'compter');
    expect(job?.static_configs[0]?.targets).toEqual(['compter:8080', 'compter-2:8080']);
    expect(compose.services.compter?.ports?.some((p) => p.endsWith(':8080'))).toBe(true);
    expect(config.alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual(['alertmanager:9093']);
  });

  it('passes promtool check config (rule file path pointed at the repository)', () => {
    requireBinary('promtool', 'prometheus');
    const copy = {
      ...yamlFile<Record<string, unknown>>(join(deployDir, 'prometheus', 'prometheus.yml')),
      rule_files: [join(root, 'alerts', 'compter.rules.yml')],
    };
    const file = join(scratch, 'prometheus.yml');
    writeFileSync(file, stringify(copy));
    const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });
});

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

describe('deploy/kubernetes', () => {
  const manifests = readdirSync(k8sDir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => ({ file: f, obj: yamlFile<K8sObject>(join(k8sDir, f)) }));
  const byKind = (kind: string): K8sObject => {
    const found = manifests.find((m) => m.obj.kind === kind);
    if (!found) throw new Error(`no ${kind} in deploy/kubernetes`);
    return found.obj;
  };

  interface Container {
    env: { name: string; value: string }[];
    ports: { name: string; containerPort: number }[];
    volumeMounts: { name: string; mountPath: string }[];
    securityContext: Record<string, unknown>;
    readinessProbe: { httpGet: { path: string; port: string } };
  }
  interface PodSpec {
    securityContext: Record<string, unknown>;
    containers: Container[];
    volumes: { name: string; configMap?: { name: string }; persistentVolumeClaim?: { claimName: string } }[];
  }
  const deployment = byKind('StatefulSet') as K8sObject & {
    spec: {
      replicas: number;
      serviceName: string;
      selector: { matchLabels: Record<string, string> };
      template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
      volumeClaimTemplates: { metadata: { name: string }; spec: { accessModes: string[] } }[];
    };
  };
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0]!;
  const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));

  it('has a StatefulSet, Service, ConfigMap, PrometheusRule and ServiceMonitor, all in the kustomization', () => {
    expect(manifests.map((m) => m.obj.kind).sort()).toEqual(['ConfigMap', 'PrometheusRule', 'Service', 'ServiceMonitor', 'StatefulSet']);
    const kustomization = yamlFile<{ resources: string[] }>(join(k8sDir, 'kustomization.yaml'));
    expect([...kustomization.resources].sort()).toEqual(manifests.map((m) => m.file).sort());
  });

  it('wires Service, ServiceMonitor and Deployment together under the job name the rules expect', () => {
    const service = byKind('Service') as K8sObject & {
      spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
    };
    const monitor = byKind('ServiceMonitor') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
    };
    // The operator names the scrape job after the Service: up{job="compter"}.
    expect(service.metadata.name).toBe('compter');
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.spec.ports.map((p) => p.name)).toContain(monitor.spec.endpoints[0]?.port);
    expect(container.ports.map((p) => p.name)).toContain(service.spec.ports[0]?.targetPort);
    expect(monitor.spec.endpoints[0]?.path).toBe('/metrics');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
  });

  it('runs two instances, each with its own persistent data volume (its journal)', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.serviceName).toBe(byKind('Service').metadata.name);
    const mount = container.volumeMounts.find((m) => env.COMPTER_DATA_DIR === m.mountPath);
    expect(deployment.spec.volumeClaimTemplates.map((t) => t.metadata.name)).toEqual([mount?.name]);
    expect(pod.volumes.some((v) => v.name === mount?.name)).toBe(false);
    expect(deployment.spec.volumeClaimTemplates[0]?.spec.accessModes).toEqual(['ReadWriteOnce']);
  });

  it('runs compter unprivileged with its config', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
    const mountOf = (path: string) => container.volumeMounts.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
    expect(volumes.get(mountOf(env.COMPTER_CONFIG!)!.name)?.configMap?.name).toBe(byKind('ConfigMap').metadata.name);
    expect(env.COMPTER_STORE).toBe('clickhouse');
  });

  it("ships a compter.yaml in the ConfigMap that passes compter's config check", () => {
    const file = join(scratch, 'compter.yaml');
    writeFileSync(file, byKind('ConfigMap').data?.['compter.yaml'] ?? '');
    const { config, problems } = readConfigFile(file);
    expect(problems).toEqual([]);
    expect(config?.debts.length).toBeGreaterThan(0);
  });

  it('has a PrometheusRule whose groups are exactly alerts/compter.rules.yml', () => {
    const rule = byKind('PrometheusRule') as K8sObject & { spec: { groups: unknown[] } };
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.spec.groups).toEqual(yamlFile<{ groups: unknown[] }>(join(root, 'alerts', 'compter.rules.yml')).groups);
    const check = spawnSync(process.execPath, [join(k8sDir, 'generate-prometheusrule.mjs'), '--check'], { encoding: 'utf8' });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
  });

  it('has a PrometheusRule whose rules promtool accepts', () => {
    requireBinary('promtool', 'prometheus');
    const rule = byKind('PrometheusRule') as K8sObject & { spec: { groups: unknown[] } };
    const file = join(scratch, 'from-prometheusrule.yml');
    writeFileSync(file, stringify({ groups: rule.spec.groups }));
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });
});

describe('deploy/Dockerfile', () => {
  const text = readFileSync(join(deployDir, 'Dockerfile'), 'utf8');

  it('builds on node:20-bookworm-slim with npm ci, runs as a non-root user, and serves the built CLI', () => {
    expect(text.match(/^FROM node:20-bookworm-slim/gm)?.length).toBe(2);
    expect(text).toMatch(/^RUN npm ci\b/m);
    const users = [...text.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)$/);
    expect(text).toMatch(/^CMD \["node", "dist\/src\/cli\/main\.js", "serve"\]$/m);
    // The path the CMD runs is where the build puts the CLI (package.json "bin").
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: { compter: string } };
    expect(pkg.bin.compter).toBe('dist/src/cli/main.js');
  });

  it('copies only files that exist, and keeps local build output out of the context', () => {
    const sources = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) expect(existsSync(join(root, s)), s).toBe(true);
    const ignore = readFileSync(join(deployDir, 'Dockerfile.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', 'dist']));
  });
});

describe('deploy/systemd/compter.service', () => {
  const file = join(deployDir, 'systemd', 'compter.service');
  const settings = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => /^\w+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
  const values = (key: string) => settings.filter(([k]) => k === key).map(([, v]) => v);

  it('is hardened: no root, no privileges, read-only system, only its state directory writable', () => {
    expect(values('DynamicUser')).toEqual(['yes']);
    expect(values('StateDirectory')).toEqual(['compter']);
    expect(values('NoNewPrivileges')).toEqual(['yes']);
    expect(values('ProtectSystem')).toEqual(['strict']);
    expect(values('ProtectHome')).toEqual(['yes']);
    expect(values('PrivateTmp')).toEqual(['yes']);
    expect(values('CapabilityBoundingSet')).toEqual(['']);
    expect(values('ExecStart')[0]).toMatch(/\/dist\/src\/cli\/main\.js serve$/);
    expect(values('Environment')).toContain('COMPTER_DATA_DIR=/var/lib/compter');
  });

  // Optional: systemd-analyze comes with systemd, which not every build machine has.
  const hasSystemdAnalyze = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { stdio: 'ignore' }).status === 0;
  it.runIf(hasSystemdAnalyze)('passes systemd-analyze verify', () => {
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/compter\.service:\d+:/);
  });
});
