/** Jest runs two projects: unit tests beside the code, and end-to-end tests on real namespaces in test/. */
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }];
const moduleNameMapper = {
  '^@trellis/core/api$': '<rootDir>/core/src/api/index.ts',
  '^@trellis/core$': '<rootDir>/core/src/index.ts',
  '^@trellis/plugin-([a-z0-9-]+)$': '<rootDir>/plugins/$1/src/index.ts',
};
module.exports = {
  projects: [
    {
      displayName: 'unit',
      rootDir: __dirname,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testMatch: ['<rootDir>/core/src/**/*.test.ts', '<rootDir>/plugins/*/src/**/*.test.ts'],
    },
    {
      displayName: 'e2e',
      rootDir: __dirname,
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testMatch: ['<rootDir>/test/**/*.e2e.test.ts'],
    },
  ],
};
