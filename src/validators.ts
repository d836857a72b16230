import type Ajv from 'ajv';
import type { Options, ValidateFunction } from 'ajv';
import fs from 'fs';
import path from 'path';

/**
 * The JSON Schema validators the connector runs: the config against the spec,
 * and every API response against the envelope schema. Ajv compiles a schema
 * in tens of milliseconds, on every start; `npm run build` therefore writes
 * them as standalone code (validators.generated.js beside this file, in lib/)
 * and a run loads that. Without the build (ts-jest) they are compiled on first use.
 */
export const RESOURCES_DIR = path.resolve(__dirname, '..', 'resources');
export const SPEC_PATH = path.join(RESOURCES_DIR, 'spec.json');
const ENVELOPE_PATH = path.join(RESOURCES_DIR, 'schemas', 'envelope.json');
const OBJECT_ENVELOPE_PATH = path.join(RESOURCES_DIR, 'schemas', 'object-envelope.json');
const GENERATED = path.join(__dirname, 'validators.generated.js');

type Validators = {
  config: ValidateFunction;
  envelope: ValidateFunction;
  objectEnvelope: ValidateFunction;
};
let loaded: Validators | undefined;

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/* eslint-disable @typescript-eslint/no-require-imports -- Ajv is loaded only when compiling */
function newAjv(options: Options = {}): Ajv {
  const AjvClass: typeof Ajv = require('ajv').default;
  const addFormats: typeof import('ajv-formats').default = require('ajv-formats').default;
  // allErrors: report every config violation at once; useDefaults: fill the spec's defaults.
  const ajv = new AjvClass({ allErrors: true, useDefaults: true, strict: true, ...options });
  addFormats(ajv);
  // Airbyte UI annotations: known to us, meaningless to validation.
  ajv.addVocabulary(['airbyte_secret', 'airbyte_type', 'order', 'airbyte_hidden']);
  ajv.addSchema({ ...(readJson(SPEC_PATH).connectionSpecification as object), $id: 'config' });
  ajv.addSchema({ ...readJson(ENVELOPE_PATH), $id: 'envelope' });
  ajv.addSchema({ ...readJson(OBJECT_ENVELOPE_PATH), $id: 'objectEnvelope' });
  return ajv;
}

export function validators(): Validators {
  if (!loaded) {
    if (fs.existsSync(GENERATED)) {
      loaded = require(GENERATED) as Validators;
    } else {
      const ajv = newAjv();
      loaded = {
        config: ajv.getSchema('config')!,
        envelope: ajv.getSchema('envelope')!,
        objectEnvelope: ajv.getSchema('objectEnvelope')!,
      };
    }
  }
  return loaded;
}

/** Build step: writes the standalone validators next to this module. */
export function generateValidators(): void {
  const { _ }: typeof import('ajv/dist/compile/codegen') = require('ajv/dist/compile/codegen');
  const standaloneCode: typeof import('ajv/dist/standalone').default =
    require('ajv/dist/standalone').default;
  const ajv = newAjv({
    code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` },
  });
  fs.writeFileSync(
    GENERATED,
    standaloneCode(ajv, {
      config: 'config',
      envelope: 'envelope',
      objectEnvelope: 'objectEnvelope',
    }),
  );
}

/* eslint-enable @typescript-eslint/no-require-imports */

if (require.main === module) generateValidators();
