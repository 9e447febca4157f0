/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  setupFiles: ['<rootDir>/test/setup/quiet-runtime.ts'],
  testTimeout: 120_000,
  maxWorkers: 2,
  // A test process is replaced once it holds more than this after a file: memory a file leaves behind (Temporal
  // workers' native buffers, stores) cannot pile up across the files that follow it in the same process.
  workerIdleMemoryLimit: '3GB',
};
