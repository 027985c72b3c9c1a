/** The JSON Schema the plugin host validates shaping-tc's config against (shape only; profile.ts checks meaning). */
import type { JsonSchema } from '@trellis/core/api';

const portMatch = {
  type: 'object',
  required: ['proto', 'from'],
  additionalProperties: false,
  properties: {
    proto: { enum: ['udp', 'tcp'] },
    from: { type: 'integer' },
    to: { type: 'integer' },
    side: { enum: ['dst', 'src'] },
  },
};

const trafficClass = {
  type: 'object',
  required: ['rateMbit', 'ceilMbit', 'priority'],
  additionalProperties: false,
  properties: {
    rateMbit: { type: 'number' },
    ceilMbit: { type: 'number' },
    priority: { type: 'integer' },
    match: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dscp: { type: 'array', items: { type: 'integer' } },
        ports: { type: 'array', items: portMatch },
        destinations: { type: 'array', items: { type: 'string' } },
      },
    },
  },
};

export const configSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    profiles: {
      type: 'object',
      default: {},
      additionalProperties: {
        type: 'object',
        required: ['name', 'linkRateMbit', 'classes'],
        additionalProperties: false,
        properties: {
          name: { type: 'string' },
          linkRateMbit: { type: 'number' },
          ingressRateMbit: { type: 'number' },
          // Class names are checked by validateProfile so an unknown one gets a message naming it.
          classes: { type: 'object', additionalProperties: trafficClass },
          caps: {
            type: 'array',
            items: {
              type: 'object',
              required: ['rateMbit'],
              additionalProperties: false,
              properties: { peer: { type: 'string' }, destination: { type: 'string' }, rateMbit: { type: 'number' } },
            },
          },
        },
      },
    },
    assign: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        required: ['profile'],
        additionalProperties: false,
        properties: { tag: { type: 'string' }, group: { type: 'string' }, node: { type: 'string' }, profile: { type: 'string' } },
      },
    },
    default: { type: 'string' },
    statsIntervalMs: { type: 'integer', minimum: 500, default: 5000 },
  },
};
