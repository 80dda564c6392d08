import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Labs the tests start stop by themselves when their worker ends, however it ends.
    setupFiles: ['test/helpers/lab-owner.ts'],
    // End-to-end tests drive the real CLI (each call a Node start-up) against labs and sshd: on a
    // loaded 2-core machine one test can take a minute; each still bounds its own commands.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Two cores: the real-sshd and lab suites start servers; too many at once starves them.
    maxWorkers: 2,
  },
});
