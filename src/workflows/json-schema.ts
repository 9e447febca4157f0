// JSON Schema checks for workflow code, which sees tools as JSON schemas only (no zod in the sandbox). The checking
// is @cfworker/json-schema's, which interprets a schema (no generated code, no Node built-ins), so it runs in the
// workflow sandbox; this module turns its output into one readable line per problem. The tool activity re-validates
// with the tool's own parser before anything runs, so this is the early, readable refusal and not the last line.
import { Validator, type OutputUnit, type SchemaDraft } from '@cfworker/json-schema';

export type JsonSchema = Record<string, unknown>;

/** The draft a schema declares; without `$schema`, 2020-12 (what z.toJSONSchema emits). */
function draftOf(schema: JsonSchema): SchemaDraft {
  const declared = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (/draft-0[34]\b/.test(declared)) return '4';
  if (/draft-0[67]\b/.test(declared)) return '7';
  if (declared.includes('2019-09')) return '2019-09';
  return '2020-12';
}

// A validator indexes its schema once; it annotates the objects it indexes, so it gets a copy of the caller's.
const validators = new WeakMap<JsonSchema, Validator>();

function validatorFor(schema: JsonSchema): Validator {
  let validator = validators.get(schema);
  if (!validator) {
    validator = new Validator(JSON.parse(JSON.stringify(schema)) as JsonSchema, draftOf(schema), false);
    validators.set(schema, validator);
  }
  return validator;
}

/** Keywords whose failure only says that something inside failed; the units after it say what. */
function isWrapper(unit: OutputUnit): boolean {
  // `dependencies` wraps when its value is a schema, and is the problem itself when it is a list of names.
  return WRAPPERS.has(unit.keyword) && !(unit.keyword === 'dependencies' && !unit.error.includes('dependant schema'));
}

const WRAPPERS = new Set([
  '$ref',
  '$recursiveRef',
  'properties',
  'patternProperties',
  'additionalProperties',
  'unevaluatedProperties',
  'items',
  'prefixItems',
  'additionalItems',
  'unevaluatedItems',
  'allOf',
  'if',
  'dependentSchemas',
  'dependencies',
]);

interface Problem {
  path: string;
  message: string;
  /** For merging the branches of a union into one line: the types or values a branch expected. */
  expectedTypes?: string[];
  got?: string;
  expectedValues?: string[];
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `#/items/0/name` → `items[0].name`, reading the value to tell array indexes from object keys. */
function pathOf(instanceLocation: string, root: unknown): string {
  let path = '';
  let node: unknown = root;
  for (const raw of instanceLocation.replace(/^#/, '').split('/').slice(1)) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      segment = raw;
    }
    segment = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      path += `[${segment}]`;
      node = node[Number(segment)];
    } else {
      path += IDENTIFIER.test(segment) ? `${path ? '.' : ''}${segment}` : `[${JSON.stringify(segment)}]`;
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

function childPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path ? `${path}.` : ''}${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** The last token of the library's sentence, e.g. the 3 of "String is too short (1 < 3)." */
function limitIn(text: string): string | undefined {
  return /(-?[\d.e+]+)\)?\.$/.exec(text)?.[1];
}

function quotedIn(text: string): string[] {
  return [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
}

/** The library's sentence, as a fallback: without its "Instance " subject, which the path replaces. */
function tidy(text: string): string {
  const sentence = text.replace(/^Instance /, '').replace(/\.$/, '');
  return sentence.charAt(0).toLowerCase() + sentence.slice(1);
}

function leafProblem(unit: OutputUnit, path: string): Problem {
  const { keyword, error } = unit;
  const limit = limitIn(error);
  const at = (message: string): Problem => ({ path, message });
  switch (keyword) {
    case 'type': {
      const expected = quotedIn(error.slice(error.indexOf('Expected')));
      const got = quotedIn(error)[0] ?? 'another type';
      return { path, message: `expected ${expected.join(' or ')}, got ${got}`, expectedTypes: expected, got };
    }
    case 'const': {
      const value = error.replace(/^Instance does not match /, '').replace(/\.$/, '');
      return { path, message: `must be ${value}`, expectedValues: [value] };
    }
    case 'enum': {
      let options: unknown[];
      try {
        options = JSON.parse(error.replace(/^Instance does not match any of /, '').replace(/\.$/, '')) as unknown[];
      } catch {
        return at(tidy(error));
      }
      const values = options.map((o) => JSON.stringify(o));
      return { path, message: `must be one of ${values.join(', ')}`, expectedValues: values };
    }
    case 'required': {
      const key = /property "(.*)"\.$/.exec(error)?.[1];
      return key === undefined ? at(tidy(error)) : { path: childPath(path, key), message: 'required' };
    }
    case 'false':
      return at('no value is allowed here');
    case 'minLength':
      return at(limit ? `must be at least ${limit} characters` : tidy(error));
    case 'maxLength':
      return at(limit ? `must be at most ${limit} characters` : tidy(error));
    case 'pattern':
      return at('does not match the pattern required here');
    case 'format':
      return at(`is not a valid ${quotedIn(error)[0] ?? 'value for its format'}`);
    case 'minimum':
      return at(limit ? `must be ${error.includes('or equal to') ? '>' : '>='} ${limit}` : tidy(error));
    case 'maximum':
      return at(limit ? `must be ${error.includes('or equal to') ? '<' : '<='} ${limit}` : tidy(error));
    case 'exclusiveMinimum':
      return at(limit ? `must be > ${limit}` : tidy(error));
    case 'exclusiveMaximum':
      return at(limit ? `must be < ${limit}` : tidy(error));
    case 'multipleOf':
      return at(limit ? `must be a multiple of ${limit}` : tidy(error));
    case 'minItems':
      return at(limit ? `must have at least ${limit} items` : tidy(error));
    case 'maxItems':
      return at(limit ? `must have at most ${limit} items` : tidy(error));
    case 'minProperties':
      return at(limit ? `must have at least ${limit} properties` : tidy(error));
    case 'maxProperties':
      // The library's sentence for this one says "at least"; the limit is right.
      return at(limit ? `must have at most ${limit} properties` : tidy(error));
    case 'minContains': {
      const least = /at least (\d+)|minContains \((\d+)\)/.exec(error);
      return at(least ? `must contain at least ${least[1] ?? least[2]} items that match its schema` : tidy(error));
    }
    case 'maxContains': {
      const most = /at most (\d+)/.exec(error)?.[1];
      return at(most ? `may contain at most ${most} items that match its schema` : tidy(error));
    }
    case 'uniqueItems':
      return at(`items must be unique (${tidy(error)})`);
    case 'not':
      return at('matches a shape that is not allowed here');
    default:
      return at(tidy(error));
  }
}

/**
 * The units that belong to the unit at `start` (those under its keyword location), as [start + 1, end). A
 * `false` schema's unit carries its instance location as keyword location: it belongs where the unit before it does.
 */
function groupEnd(units: OutputUnit[], start: number, prefix: string): number {
  let end = start + 1;
  while (end < units.length) {
    const unit = units[end]!;
    const inside = unit.keywordLocation.startsWith(`${prefix}/`) || (unit.keyword === 'false' && end > start + 1 && belongs(units[end - 1]!, prefix));
    if (!inside) break;
    end++;
  }
  return end;
}

function belongs(unit: OutputUnit, prefix: string): boolean {
  return unit.keywordLocation.startsWith(`${prefix}/`) || unit.keywordLocation === prefix;
}

/** What a failed anyOf/oneOf comes to, phrased as the shape the value was most likely meant to have. */
function unionProblems(unit: OutputUnit, inside: OutputUnit[], path: string, root: unknown): Problem[] {
  const matches = /\((\d+) matches\)/.exec(unit.error)?.[1];
  if (unit.keyword === 'oneOf' && matches !== undefined && Number(matches) > 1) {
    return [{ path, message: `matches ${matches} of the allowed shapes; exactly one may match` }];
  }
  const branches = new Map<number, OutputUnit[]>();
  let current = -1;
  for (const sub of inside) {
    const index = /^\/(\d+)/.exec(sub.keywordLocation.slice(unit.keywordLocation.length))?.[1];
    if (index !== undefined && sub.keyword !== 'false') current = Number(index);
    if (current < 0) continue;
    branches.set(current, [...(branches.get(current) ?? []), sub]);
  }
  const outcomes = [...branches.entries()].map(([index, subUnits]) => ({ index, problems: collect(subUnits, root) }));
  if (outcomes.length === 0) return [{ path, message: 'matches none of the allowed shapes' }];
  // One wrong type or value in every shape: one line with everything that would do.
  const singles = outcomes.map((o) => o.problems).filter((p) => p.length === 1 && p[0]!.path === path).map((p) => p[0]!);
  if (singles.length === outcomes.length) {
    if (singles.every((p) => p.expectedTypes)) {
      const expected = [...new Set(singles.flatMap((p) => p.expectedTypes!))];
      return [{ path, message: `expected ${expected.join(' or ')}, got ${singles[0]!.got}`, expectedTypes: expected, got: singles[0]!.got! }];
    }
    if (singles.every((p) => p.expectedValues)) {
      const values = [...new Set(singles.flatMap((p) => p.expectedValues!))];
      return [{ path, message: `must be one of ${values.join(', ')}`, expectedValues: values }];
    }
  }
  // A discriminated union: each shape fixes one field to a constant.
  const constantsMissed = outcomes.map((o) => o.problems.filter((p) => p.expectedValues?.length === 1));
  const discriminators = constantsMissed.map((missed) => new Set(missed.map((p) => p.path)));
  const shared = [...(discriminators[0] ?? [])].find((field) => discriminators.every((fields) => fields.has(field)));
  if (shared !== undefined) {
    const values = [...new Set(constantsMissed.flatMap((missed) => missed.filter((p) => p.path === shared).map((p) => p.expectedValues![0]!)))];
    return [{ path: shared, message: `must be one of ${values.join(', ')}`, expectedValues: values }];
  }
  // The one shape whose type and constants the value has (a nullable field, a tagged union): its problems are the point.
  const plausible = outcomes.filter((o, i) => constantsMissed[i]!.length === 0 && !o.problems.some((p) => p.path === path && p.expectedTypes));
  if (plausible.length === 1 && outcomes.length > 1) return plausible[0]!.problems;
  const nearest = [...outcomes].sort((a, b) => a.problems.length - b.problems.length || a.index - b.index)[0]!;
  const details = nearest.problems.map((p) => `${p.path === path ? '' : `${p.path.slice(path.length).replace(/^\./, '')}: `}${p.message}`);
  return [{ path, message: `matches none of the ${branches.size} allowed shapes (the nearest, shape ${nearest.index + 1}: ${details.join('; ')})` }];
}

function collect(all: OutputUnit[], root: unknown): Problem[] {
  // The items that failed a `contains` are no problem of their own: too few matched, which minContains says.
  const containsTried = all.filter((u) => u.keyword === 'minContains').map((u) => u.keywordLocation.replace(/minContains$/, 'contains/'));
  const units = all.filter((u) => !containsTried.some((prefix) => u.keywordLocation.startsWith(prefix)));
  const problems: Problem[] = [];
  for (let i = 0; i < units.length; i++) {
    const unit = units[i]!;
    const path = pathOf(unit.instanceLocation, root);
    if (unit.keyword === 'anyOf' || unit.keyword === 'oneOf') {
      const end = groupEnd(units, i, unit.keywordLocation);
      problems.push(...unionProblems(unit, units.slice(i + 1, end), path, root));
      i = end - 1;
    } else if (unit.keyword === 'propertyNames') {
      const end = groupEnd(units, i, unit.keywordLocation);
      const name = quotedIn(unit.error)[0] ?? '';
      const reasons = collect(units.slice(i + 1, end), root).map((p) => p.message);
      problems.push({ path, message: `property name ${JSON.stringify(name)} is not allowed${reasons.length ? ` (${reasons.join('; ')})` : ''}` });
      i = end - 1;
    } else if (unit.keyword === 'contains') {
      problems.push({ path, message: 'must contain an item that matches its schema' });
      i = groupEnd(units, i, unit.keywordLocation) - 1;
    } else if (isWrapper(unit)) {
      const next = units[i + 1];
      // A `false` schema right under it: nothing may be there at all.
      if (next?.keyword === 'false') {
        const where = pathOf(next.instanceLocation, root);
        if (unit.keyword === 'additionalProperties' || unit.keyword === 'unevaluatedProperties') problems.push({ path: where, message: 'not allowed (unknown property)' });
        else if (unit.keyword.endsWith('Items') || unit.keyword === 'items') problems.push({ path: where, message: 'not allowed (no more items may follow)' });
        else problems.push({ path: where, message: 'no value is allowed here' });
        i++;
      }
    } else {
      problems.push(leafProblem(unit, path));
    }
  }
  // A string that fails its format usually fails the pattern that spells the format out too: say it once.
  const formatFailed = new Set(problems.filter((p) => p.message.startsWith('is not a valid ')).map((p) => p.path));
  return problems.filter((p) => !(p.message === 'does not match the pattern required here' && formatFailed.has(p.path)));
}

/** The problems of `value` against `schema`, each with the path of the offending field; empty when it conforms. */
export function validateJsonSchema(value: unknown, schema: JsonSchema): string[] {
  let units: OutputUnit[];
  try {
    const result = validatorFor(schema).validate(value);
    if (result.valid) return [];
    units = result.errors;
  } catch (err) {
    // A schema the library cannot use (an unresolvable $ref, a duplicate $id) or a value that is not JSON.
    return [`input: cannot be checked against this schema: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`];
  }
  const problems = collect(units, value).map((p) => `${p.path || 'input'}: ${p.message}`);
  return [...new Set(problems)];
}
