// The workflow's JSON Schema check (the approval edit check, and the input check of JSON-schema tools) on the
// schemas tools really have: zod 4's z.toJSONSchema output (draft 2020-12) and MCP servers' draft-07 schemas.
import { z } from 'zod';
import { validateJsonSchema, type JsonSchema } from '../src/workflows/json-schema';

const Address = z.object({ street: z.string().min(1), city: z.string() });
const Refund = z.object({
  orderId: z.string().regex(/^ord_[0-9]+$/),
  cents: z.number().int().positive(),
  ratio: z.number().gt(0).lte(1).optional(),
  reason: z.enum(['broken', 'late', 'other']),
  notify: z.email().optional(),
  note: z.string().max(20).nullable(),
  metadata: z.record(z.string(), z.number()),
  method: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('card'), last4: z.string().length(4) }),
    z.object({ kind: z.literal('credit'), expiresInDays: z.number().int() }),
  ]),
  contact: z.union([z.email(), z.object({ phone: z.string() })]),
  billing: Address,
  shipping: Address.optional(),
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int().min(1) })).min(1),
  window: z.tuple([z.iso.date(), z.iso.date()]).optional(),
});
// `reused: 'ref'` makes zod put a schema used twice (Address) in $defs and point at it with $ref.
const refundSchema = z.toJSONSchema(Refund, { reused: 'ref' }) as JsonSchema;

const validRefund = {
  orderId: 'ord_981',
  cents: 1250,
  reason: 'broken',
  note: null,
  metadata: { attempt: 1 },
  method: { kind: 'card', last4: '4242' },
  contact: 'ada@example.com',
  billing: { street: '1 Main St', city: 'Springfield' },
  items: [{ sku: 'mug', quantity: 2 }],
};

describe('zod-generated schemas', () => {
  test('the schema uses what the check must cover: $ref into $defs, anyOf, oneOf, const, enum, format, records', () => {
    const text = JSON.stringify(refundSchema);
    for (const keyword of ['"$defs"', '"$ref"', '"anyOf"', '"oneOf"', '"const"', '"enum"', '"format"', '"exclusiveMinimum"', '"prefixItems"', '"additionalProperties":false']) {
      expect(text).toContain(keyword);
    }
  });

  test.each([
    ['the minimal input', validRefund],
    ['every optional field', { ...validRefund, ratio: 1, notify: 'ops@example.com', shipping: { street: '2 Side St', city: 'Shelbyville' }, window: ['2026-01-01', '2026-01-31'] }],
    ['the other shape of each union', { ...validRefund, method: { kind: 'credit', expiresInDays: 30 }, contact: { phone: '555-0100' }, note: 'fragile' }],
  ])('accepts %s', (_what, input) => {
    expect(Refund.safeParse(input).success).toBe(true);
    expect(validateJsonSchema(input, refundSchema)).toEqual([]);
  });

  test.each<[string, Record<string, unknown>, string[]]>([
    ['a missing required field', { orderId: undefined }, ['orderId: required']],
    ['a wrong type', { cents: '1250' }, ['cents: expected integer, got string']],
    ['a fraction where an integer is required', { cents: 12.5 }, ['cents: expected integer, got number']],
    ['a value outside exclusiveMinimum / maximum', { cents: 0, ratio: 1.5 }, ['cents: must be > 0', 'ratio: must be <= 1']],
    ['a value outside the enum', { reason: 'changed my mind' }, ['reason: must be one of "broken", "late", "other"']],
    ['a string that breaks its pattern', { orderId: 'order-981' }, ['orderId: does not match the pattern required here']],
    ['a malformed email (format and pattern, said once)', { notify: 'not-an-email' }, ['notify: is not a valid email']],
    ['a string too long for its nullable field', { note: 'x'.repeat(21) }, ['note: must be at most 20 characters']],
    ['neither string nor null', { note: 5 }, ['note: expected string or null, got number']],
    ['a record value of the wrong type', { metadata: { attempt: 'one' } }, ['metadata.attempt: expected number, got string']],
    ['an unknown discriminator', { method: { kind: 'cash' } }, ['method.kind: must be one of "card", "credit"']],
    ['a bad field in the shape its discriminator picks', { method: { kind: 'card', last4: '42' } }, ['method.last4: must be at least 4 characters']],
    ['a union that matches no shape', { contact: 42 }, ['contact: expected string or object, got number']],
    ['a union whose object shape has a bad field', { contact: { phone: 5550100 } }, ['contact.phone: expected string, got number']],
    ['a union object missing its field', { contact: { email: 'ada@example.com' } }, ['contact.phone: required', 'contact.email: not allowed (unknown property)']],
    ['a bad field inside a $ref', { billing: { street: '', city: 'Springfield' } }, ['billing.street: must be at least 1 characters']],
    ['an empty array', { items: [] }, ['items: must have at least 1 items']],
    ['a bad item in an array', { items: [{ sku: 'mug', quantity: 1 }, { sku: 'cup', quantity: 0 }] }, ['items[1].quantity: must be >= 1']],
    ['a tuple with a bad date and an extra item', { window: ['2026-01-01', '2026-02-30', 'x'] }, [
      'window: must have at most 2 items',
      'window[1]: is not a valid date',
      'window[2]: not allowed (no more items may follow)',
    ]],
  ])('rejects %s, saying where and why', (_what, change, problems) => {
    const input: Record<string, unknown> = { ...validRefund, ...change };
    for (const [key, value] of Object.entries(change)) if (value === undefined) delete input[key];
    expect(Refund.safeParse(input).success).toBe(false);
    expect(validateJsonSchema(input, refundSchema)).toEqual(problems);
  });

  // zod's parser strips unknown keys, but the schema the model sees says additionalProperties: false; an edit keeps to it.
  test.each([
    ['an unknown field inside a $ref used twice', { shipping: { street: 'a', city: 'b', zip: '123' } }, ['shipping.zip: not allowed (unknown property)']],
    ['an unknown top-level field', { couponCode: 'FREE' }, ['couponCode: not allowed (unknown property)']],
  ])('rejects %s, as the schema the model sees says', (_what, change, problems) => {
    expect(validateJsonSchema({ ...validRefund, ...change }, refundSchema)).toEqual(problems);
  });

  test('reports every problem of an input at once, and a non-object input as such', () => {
    expect(validateJsonSchema({ ...validRefund, cents: -1, reason: 'x', billing: {} }, refundSchema)).toEqual([
      'cents: must be > 0',
      'reason: must be one of "broken", "late", "other"',
      'billing.street: required',
      'billing.city: required',
    ]);
    expect(validateJsonSchema('refund it', refundSchema)).toEqual(['input: expected object, got string']);
  });

  test('a union of shapes that all could be meant names the nearest one', () => {
    const schema = z.toJSONSchema(z.object({ target: z.union([z.object({ userId: z.string() }), z.object({ team: z.string(), role: z.string() })]) })) as JsonSchema;
    expect(validateJsonSchema({ target: { team: 'ops' } }, schema)).toEqual([
      'target: matches none of the 2 allowed shapes (the nearest, shape 2: role: required)',
    ]);
  });

  test('a recursive schema (z.lazy through a getter) checks nested levels', () => {
    const Category = z.object({
      name: z.string(),
      get children() {
        return z.array(Category);
      },
    });
    const schema = z.toJSONSchema(z.object({ root: Category })) as JsonSchema;
    expect(validateJsonSchema({ root: { name: 'a', children: [{ name: 'b', children: [] }] } }, schema)).toEqual([]);
    expect(validateJsonSchema({ root: { name: 'a', children: [{ name: 'b', children: [{ children: [] }] }] } }, schema)).toEqual([
      'root.children[0].children[0].name: required',
    ]);
  });
});

describe('hand-written and MCP servers’ schemas', () => {
  // The shape of a draft-07 schema as MCP servers built with zod-to-json-schema or pydantic publish them.
  const mcpSchema: JsonSchema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: {
      query: { type: 'string', minLength: 1 },
      limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
      page: { type: 'number', exclusiveMinimum: 0, multipleOf: 1 },
      filters: { type: 'array', items: { $ref: '#/definitions/filter' }, uniqueItems: true },
      mode: { const: 'fast' },
      labels: { type: 'object', patternProperties: { '^x-': { type: 'string' } }, additionalProperties: false },
      range: { type: 'array', items: [{ type: 'number' }, { type: 'number' }], additionalItems: false },
      sort: { oneOf: [{ type: 'string', enum: ['asc', 'desc'] }, { type: 'null' }] },
    },
    required: ['query'],
    additionalProperties: false,
    definitions: {
      filter: { type: 'object', properties: { field: { type: 'string' }, value: {} }, required: ['field', 'value'] },
    },
  };

  test('accepts conforming input', () => {
    expect(
      validateJsonSchema(
        { query: 'weather', limit: 5, page: 2, filters: [{ field: 'city', value: 'Paris' }], mode: 'fast', labels: { 'x-team': 'ops' }, range: [1, 2], sort: null },
        mcpSchema,
      ),
    ).toEqual([]);
  });

  test('rejects with a line per problem', () => {
    expect(
      validateJsonSchema(
        {
          query: '',
          limit: 500,
          page: 1.5,
          filters: [{ field: 'city' }, { field: 'city' }],
          mode: 'slow',
          labels: { 'x-team': 1, team: 'ops' },
          range: [1, 2, 3],
          sort: 'up',
        },
        mcpSchema,
      ),
    ).toEqual([
      'query: must be at least 1 characters',
      'limit: must be <= 100',
      'page: must be a multiple of 1',
      'filters[0].value: required',
      'filters[1].value: required',
      'filters: items must be unique (duplicate items at indexes 0 and 1)',
      'mode: must be "fast"',
      'labels["x-team"]: expected string, got number',
      'labels.team: not allowed (unknown property)',
      'range[2]: not allowed (no more items may follow)',
      'sort: must be one of "asc", "desc"',
    ]);
  });

  test('conditional and dependent keywords of 2020-12 apply too', () => {
    const schema: JsonSchema = {
      type: 'object',
      properties: { country: { type: 'string' }, postcode: { type: 'string' } },
      if: { properties: { country: { const: 'US' } }, required: ['country'] },
      then: { properties: { postcode: { pattern: '^[0-9]{5}$' } } },
      dependentRequired: { postcode: ['country'] },
    };
    expect(validateJsonSchema({ country: 'US', postcode: '12345' }, schema)).toEqual([]);
    expect(validateJsonSchema({ country: 'US', postcode: 'SW1A' }, schema)).toEqual(['postcode: does not match the pattern required here']);
    expect(validateJsonSchema({ postcode: '12345' }, schema)).toEqual(['input: has "postcode" but does not have "country"']);
  });

  test('contains, minContains and draft-07 dependencies say what is missing', () => {
    const schema: JsonSchema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { tags: { type: 'array', contains: { const: 'urgent' } }, owners: { type: 'array', contains: { type: 'string' }, minContains: 2 } },
      dependencies: { creditCard: ['billingAddress'], refund: { required: ['reason'] } },
    };
    expect(validateJsonSchema({ tags: ['a', 'urgent'], owners: ['ada', 'bob', 3] }, schema)).toEqual([]);
    expect(validateJsonSchema({ tags: ['a', 'b'], owners: ['ada', 3], creditCard: '4242', refund: true }, schema)).toEqual([
      'input: has "creditCard" but does not have "billingAddress"',
      'reason: required',
      'tags: must contain an item that matches its schema',
      'owners: must contain at least 2 items that match its schema',
    ]);
  });

  test('a schema it cannot use is a readable problem, not an exception', () => {
    const broken: JsonSchema = { type: 'object', properties: { a: { $ref: '#/$defs/missing' } } };
    const problems = validateJsonSchema({ a: 1 }, broken);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^input: cannot be checked against this schema: Unresolved \$ref "#\/\$defs\/missing"/);
  });

  test('checking leaves the caller’s schema as it was', () => {
    const before = JSON.stringify(mcpSchema);
    validateJsonSchema({ query: 'x' }, mcpSchema);
    validateJsonSchema({ query: 1 }, mcpSchema);
    expect(JSON.stringify(mcpSchema)).toBe(before);
    expect(Object.getOwnPropertyNames(mcpSchema)).not.toContain('__absolute_uri__');
  });
});
