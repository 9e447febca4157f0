// A worker in a process of its own, for tests that SIGKILL it: started with node and tsx as a loader, ready once it
// prints 'ready'.
import { spawn, type ChildProcess } from 'node:child_process';

export async function spawnWorkerProcess(script: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  // node itself with tsx as a loader (not the tsx CLI, which would run the worker in a grandchild that a SIGKILL
  // of its parent leaves alive).
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  });
  return child;
}

/** Stops the process with this signal and waits for it to exit; nothing when it has exited already. */
export async function stopWorkerProcess(child: ChildProcess | undefined, signal: 'SIGKILL' | 'SIGTERM'): Promise<boolean> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return false;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
  return true;
}
