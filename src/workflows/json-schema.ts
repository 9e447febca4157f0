// A small JSON Schema checker for workflow code, which sees tools as JSON schemas only (no zod in the sandbox).
// It covers what z.toJSONSchema and hand-written tool schemas use; the tool activity re-validates with the
// tool's own parser before anything runs, so this is the early, readable refusal and not the last line.

export type JsonSchema = Record<string, unknown>;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function resolveRef(ref: string, root: JsonSchema): JsonSchema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(1).split('/').filter(Boolean)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return typeof node === 'object' && node !== null ? (node as JsonSchema) : undefined;
}

function check(value: unknown, schema: unknown, path: string, root: JsonSchema, errors: string[]): void {
  if (schema === true || schema === undefined) return;
  if (schema === false) {
    errors.push(`${path}: no value is allowed here`);
    return;
  }
  if (typeof schema !== 'object' || schema === null) return;
  const s = schema as JsonSchema;
  const where = path || 'input';

  if (typeof s.$ref === 'string') {
    const target = resolveRef(s.$ref, root);
    if (target) check(value, target, path, root, errors);
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => matchesType(value, t))) {
      errors.push(`${where}: expected ${types.join(' or ')}, got ${typeOf(value)}`);
      return;
    }
  }
  if (s.const !== undefined && !deepEqual(value, s.const)) errors.push(`${where}: must be ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((option) => deepEqual(option, value))) {
    errors.push(`${where}: must be one of ${s.enum.map((o) => JSON.stringify(o)).join(', ')}`);
  }

  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength) errors.push(`${where}: must be at least ${s.minLength} characters`);
    if (typeof s.maxLength === 'number' && value.length > s.maxLength) errors.push(`${where}: must be at most ${s.maxLength} characters`);
    if (typeof s.pattern === 'string') {
      let pattern: RegExp | undefined;
      try {
        pattern = new RegExp(s.pattern, 'u');
      } catch {
        pattern = undefined;
      }
      if (pattern && !pattern.test(value)) errors.push(`${where}: must match ${s.pattern}`);
    }
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) errors.push(`${where}: must be >= ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) errors.push(`${where}: must be <= ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) errors.push(`${where}: must be > ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) errors.push(`${where}: must be < ${s.exclusiveMaximum}`);
    if (typeof s.multipleOf === 'number' && s.multipleOf > 0 && Math.abs(value / s.multipleOf - Math.round(value / s.multipleOf)) > 1e-9) {
      errors.push(`${where}: must be a multiple of ${s.multipleOf}`);
    }
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) errors.push(`${where}: must have at least ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) errors.push(`${where}: must have at most ${s.maxItems} items`);
    if (Array.isArray(s.prefixItems)) {
      s.prefixItems.forEach((itemSchema, i) => {
        if (i < value.length) check(value[i], itemSchema, `${path}[${i}]`, root, errors);
      });
    }
    if (s.items !== undefined && !Array.isArray(s.items)) {
      const start = Array.isArray(s.prefixItems) ? s.prefixItems.length : 0;
      for (let i = start; i < value.length; i++) check(value[i], s.items, `${path}[${i}]`, root, errors);
    }
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (s.properties ?? {}) as Record<string, unknown>;
    if (Array.isArray(s.required)) {
      for (const key of s.required as string[]) {
        if (!(key in object)) errors.push(`${path ? `${path}.` : ''}${key}: required`);
      }
    }
    for (const [key, child] of Object.entries(object)) {
      const childPath = path ? `${path}.${key}` : key;
      if (key in properties) check(child, properties[key], childPath, root, errors);
      else if (s.additionalProperties === false) errors.push(`${childPath}: not allowed (unknown property)`);
      else if (typeof s.additionalProperties === 'object') check(child, s.additionalProperties, childPath, root, errors);
    }
  }

  if (Array.isArray(s.allOf)) for (const sub of s.allOf) check(value, sub, path, root, errors);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = s[key];
    if (!Array.isArray(options)) continue;
    const passing = options.filter((sub) => {
      const subErrors: string[] = [];
      check(value, sub, path, root, subErrors);
      return subErrors.length === 0;
    }).length;
    if (passing === 0 || (key === 'oneOf' && passing > 1)) {
      errors.push(`${where}: must match ${key === 'oneOf' ? 'exactly one' : 'at least one'} of ${options.length} allowed shapes`);
    }
  }
  if (s.not !== undefined) {
    const subErrors: string[] = [];
    check(value, s.not, path, root, subErrors);
    if (subErrors.length === 0) errors.push(`${where}: matches a shape that is not allowed`);
  }
}

/** The problems of `value` against `schema`, each with the path of the offending field; empty when it conforms. */
export function validateJsonSchema(value: unknown, schema: JsonSchema): string[] {
  const errors: string[] = [];
  check(value, schema, '', schema, errors);
  return errors;
}
