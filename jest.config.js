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
  // Every file gets a fresh test process. Jest compares this limit with the JS heap only (heapUsed), not with what a
  // file leaves behind outside it: Temporal workers' native memory and their workflow threads' heaps. Under a limit
  // of 3GB, a process's RSS grew file after file to 22 GB and the kernel's OOM killer ended it mid-file (a clean-clone
  // CI run, 2026-12-07); a limit no process stays under replaces each one after its file.
  workerIdleMemoryLimit: '1MB',
  setupFilesAfterEnv: ['<rootDir>/test/setup/memory-report.ts'],
};
