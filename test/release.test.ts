import fs from 'fs';
import { load } from 'js-yaml';
import path from 'path';
import { ROOT } from './cli-helpers';

/** Release hygiene: the version and the license say the same thing everywhere. */
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const metadata = (load(read('metadata.yaml')) as Record<string, any>).data;
const dockerfile = read('Dockerfile');
const label = (name: string) =>
  new RegExp(`${name.replace(/\./g, '\\.')}="([^"]+)"`).exec(dockerfile)?.[1];

describe('release', () => {
  it('has one version: package.json, image label, metadata.yaml and the newest changelog entry', () => {
    const changelog = read('docs/gokart.md').split(/^## Changelog$/m)[1] ?? '';
    const rows = [...changelog.matchAll(/^\| (\d+\.\d+\.\d+) \| (\d{4}-\d\d-\d\d) \|/gm)];
    expect(rows.length).toBeGreaterThan(0);
    expect({
      dockerfile: label('io.airbyte.version'),
      metadata: String(metadata.dockerImageTag),
      changelog: rows[0][1],
    }).toEqual({ dockerfile: pkg.version, metadata: pkg.version, changelog: pkg.version });
    expect(label('io.airbyte.name')).toBe(metadata.dockerRepository);
  });

  it('names only the current image tag in the docs, README, Dockerfile and examples', () => {
    for (const file of ['README.md', 'docs/gokart.md', 'Dockerfile', 'examples/ci-sync.sh']) {
      const tags = [...read(file).matchAll(/source-gokart-offers:(\d+\.\d+\.\d+)/g)].map(
        (m) => m[1],
      );
      expect([file, [...new Set(tags)]]).toEqual([file, tags.length ? [pkg.version] : []]);
    }
  });

  it('is MIT licensed in package.json, metadata.yaml and LICENSE', () => {
    expect(pkg.license).toBe('MIT');
    expect(metadata.license).toBe('MIT');
    const license = read('LICENSE');
    expect(license).toMatch(/^MIT License\n/);
    expect(license).toContain('Copyright (c) 2026 GoKart connector contributors');
  });
});
