/**
 * Property-based fuzzing of the controller from its own OpenAPI document (fast-check): for every
 * operation it generates path parameters, query strings and bodies from the schemas — values that
 * fit, values that almost fit, and hostile ones (wrong types, unknown and prototype-polluting keys,
 * huge and deeply nested values, odd Unicode, bytes that are not JSON) — and sends them with the
 * credentials the route wants (admin token, node signature, enrolment proof, console session) or
 * without. Each answer must come within the time limit, never be a 5xx, carry a catalogued error
 * body when it is a 4xx, and a refused request must leave the stored state as it was.
 */
import fc from 'fast-check';

export type JsonSchema = Record<string, unknown>;

export interface Operation {
  method: string;
  /** OpenAPI form, e.g. /v1/admin/nodes/{name}/revoke */
  path: string;
  params: JsonSchema | null;
  query: JsonSchema | null;
  body: JsonSchema | null;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; required?: boolean; schema: JsonSchema }>; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>>;
}

/** operationsOf lists every operation of the document with its parameter and body schemas. */
export function operationsOf(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (method === 'head') continue;
      const params = (op.parameters ?? []).filter((p) => p.in === 'path');
      const query = (op.parameters ?? []).filter((p) => p.in === 'query');
      const object = (list: typeof params): JsonSchema | null =>
        list.length === 0
          ? null
          : { type: 'object', additionalProperties: false, required: list.filter((p) => p.required).map((p) => p.name), properties: Object.fromEntries(list.map((p) => [p.name, p.schema])) };
      const content = op.requestBody?.content ?? {};
      const body = (content['application/json'] ?? Object.values(content)[0])?.schema ?? null;
      ops.push({ method: method.toUpperCase(), path, params: object(params), query: object(query), body });
    }
  }
  return ops.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', '', ' ', '\u0000', '$where', 'a'.repeat(300)];
const HOSTILE_STRINGS = ['', ' ', '\u0000', '\u202e', '🦆'.repeat(40), '../../etc/passwd', '%00', '${7*7}', '<script>x</script>', "'; DROP TABLE nodes; --", 'a'.repeat(70_000), '\ud800', 'null', '1e309'];
const HOSTILE_NUMBERS = [0, -0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.5, Number.MIN_VALUE, 4294967296];

/** nested builds a value nested `depth` arrays deep (the JSON parser and validators must cope). */
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

/** hostile is a value of any shape a careless client or an attacker might send. */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...HOSTILE_STRINGS, ...HOSTILE_NUMBERS, null, true, false, [], {}, nested(200), nested(3000)),
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(fc.constantFrom(...HOSTILE_KEYS), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
);

function patternArb(pattern: string, maxLength: number): fc.Arbitrary<string> {
  return fc.stringMatching(new RegExp(pattern)).filter((s) => s.length <= maxLength);
}

/**
 * valueFor generates values for a JSON schema: mostly ones that fit it (so requests get past
 * validation into the handlers), some that break it in one place.
 */
export function valueFor(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.jsonValue({ maxDepth: 2 });
  const fitting = fitValue(schema, depth);
  return fc.oneof({ weight: 6, arbitrary: fitting }, { weight: 1, arbitrary: hostile });
}

function fitValue(s: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  if (s.const !== undefined) return fc.constant(s.const);
  const branches = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(branches)) return fc.oneof(...branches.map((b) => valueFor(b, depth + 1)));
  const type = Array.isArray(s.type) ? (s.type as string[])[0] : (s.type as string | undefined);
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = typeof s.minimum === 'number' ? s.minimum : -(2 ** 31);
      const max = typeof s.maximum === 'number' ? Math.min(s.maximum, Number.MAX_SAFE_INTEGER) : 2 ** 31;
      return fc.oneof(fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) }), fc.constantFrom(min, max));
    }
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: typeof s.minimum === 'number' ? s.minimum : -1e12, max: typeof s.maximum === 'number' ? s.maximum : 1e12 });
    case 'string': {
      const maxLength = typeof s.maxLength === 'number' ? s.maxLength : 80;
      const minLength = typeof s.minLength === 'number' ? s.minLength : 0;
      const short = Math.max(minLength, Math.min(maxLength, 48));
      if (typeof s.pattern === 'string') return fc.oneof(patternArb(s.pattern, maxLength), fc.string({ minLength, maxLength: short }));
      return fc.string({ unit: 'grapheme', minLength, maxLength: short });
    }
    case 'array': {
      const items = (s.items as JsonSchema | undefined) ?? {};
      return fc.array(valueFor(items, depth + 1), { minLength: typeof s.minItems === 'number' ? Math.min(s.minItems, 4) : 0, maxLength: typeof s.maxItems === 'number' ? Math.min(s.maxItems, 4) : 4 });
    }
    case 'object':
    default: {
      const props = (s.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((s.required as string[] | undefined) ?? []);
      const names = Object.keys(props);
      if (names.length === 0 && s.additionalProperties !== false) {
        // A free-form object (facts, details, a map of files): anything JSON, under generated keys.
        const valueSchema = typeof s.additionalProperties === 'object' ? (s.additionalProperties as JsonSchema) : undefined;
        return fc.dictionary(fc.string({ maxLength: 24 }), valueSchema ? valueFor(valueSchema, depth + 1) : fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });
      }
      const record = fc.record(
        Object.fromEntries(names.map((n) => [n, valueFor(props[n], depth + 1)])),
        { requiredKeys: names.filter((n) => required.has(n)) },
      ) as fc.Arbitrary<Record<string, unknown>>;
      // Free-form siblings (facts' unknown fields) are allowed where additionalProperties is not false.
      if (s.additionalProperties === false) return record;
      return fc.tuple(record, fc.dictionary(fc.string({ maxLength: 16 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })).map(([a, b]) => ({ ...b, ...a }));
    }
  }
}

export interface FuzzRequest {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  /** A JSON value to send as the body; or raw text (not JSON) under `raw`. */
  body: { json: unknown } | { raw: string; contentType: string } | null;
  /** Send the credentials the route wants (true), or none / wrong ones (false). */
  authenticated: boolean;
}

const RAW_BODIES: Array<{ raw: string; contentType: string }> = [
  { raw: '{"unterminated": ', contentType: 'application/json' },
  { raw: 'not json at all', contentType: 'application/json' },
  { raw: '\u0000\u0001\u0002', contentType: 'application/json' },
  { raw: '[]', contentType: 'text/plain' },
  { raw: 'a=1&b=2', contentType: 'application/x-www-form-urlencoded' },
  { raw: '{"a":1}', contentType: 'application/json; charset=utf-16' },
  { raw: '', contentType: 'application/json' },
];

/** requestFor generates one request of an operation. */
export function requestFor(op: Operation): fc.Arbitrary<FuzzRequest> {
  const params = op.params ? (fitValue(op.params, 0) as fc.Arbitrary<Record<string, unknown>>) : fc.constant({});
  const query = fc.oneof(
    { weight: 4, arbitrary: op.query ? (fitValue(op.query, 0) as fc.Arbitrary<Record<string, unknown>>) : fc.constant({}) },
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('limit', 'since', 'epoch', 'x', '__proto__', 'type'), fc.oneof(fc.string({ maxLength: 20 }), fc.integer())) },
  );
  const bodySchema = op.body;
  const body: fc.Arbitrary<FuzzRequest['body']> =
    bodySchema === null
      ? fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: hostile.map((json) => ({ json })) })
      : fc.oneof({ weight: 8, arbitrary: valueFor(bodySchema).map((json) => ({ json })) }, { weight: 1, arbitrary: fc.constantFrom(...RAW_BODIES) }, { weight: 1, arbitrary: fc.constant(null) });
  return fc.record({ params, query, body, authenticated: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) });
}

/** encode percent-encodes text as UTF-8 (a lone surrogate becomes U+FFFD, as any client would send it). */
const encode = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

/** urlFor fills the path parameters and appends the query string. */
export function urlFor(op: Operation, req: FuzzRequest): string {
  const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const v = req.params[name];
    const text = v === undefined || v === null ? 'x' : typeof v === 'string' ? v : JSON.stringify(v);
    return encode(text === '' ? 'x' : text);
  });
  const qs = Object.entries(req.query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encode(k)}=${encode(typeof v === 'string' ? v : JSON.stringify(v))}`)
    .join('&');
  return qs ? `${path}?${qs}` : path;
}
