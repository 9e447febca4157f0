// The flags `dev`, `worker` and `tools` take for MCP servers: --mcp "[NAME=]COMMAND ARGS…" (a server the worker
// starts, talking over stdin/stdout) and --mcp-url [NAME=]URL (a Streamable HTTP server). They become the
// McpServerConfig[] the worker connects; everything is checked here, before anything starts.
import path from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { McpHttpServerConfig, McpServerConfig, McpStdioServerConfig } from '../mcp/types';
import type { CliValues } from './values';
import { CliError } from './errors';

export const MCP_OPTIONS = {
  mcp: { type: 'string', multiple: true },
  'mcp-url': { type: 'string', multiple: true },
} as const satisfies ParseArgsConfig['options'];

export const MCP_USAGE = '[--mcp "[NAME=]COMMAND ARGS…"]… [--mcp-url [NAME=]URL]…';

/** The Authorization header every --mcp-url server gets, read from the worker's environment when it connects. */
export const MCP_AUTHORIZATION_ENV = 'DURABLE_CLAUDE_MCP_AUTHORIZATION';

export const MCP_HELP = `MCP servers (repeatable; their tools are offered as NAME__TOOL):
  --mcp "[NAME=]COMMAND ARGS…"  a server the worker starts (stdio); split like a shell would (quotes, \\ escapes),
                                but no shell runs it. e.g. --mcp "files=npx -y @modelcontextprotocol/server-filesystem /tmp"
  --mcp-url [NAME=]URL          a Streamable HTTP server; sent "Authorization: $${MCP_AUTHORIZATION_ENV}" when set
  Without NAME=, the name comes from the script or package (or the URL's host): letters, digits and '-'.`;

/** A letter or digit, then letters, digits, '-' and single '_' (not last: '__' separates the server from the tool), ≤ 64. */
const SERVER_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_))*$/;
const MAX_NAME = 64;

/**
 * Splits a command line into words as a POSIX shell would, without running one: blanks separate words; '…' keeps
 * everything literally; "…" keeps everything but \" \\ \$ \` (escaped); outside quotes \x is x. No variables,
 * globs or operators: `$HOME`, `*` and `|` are plain characters.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new SyntaxError(`unbalanced single quote (the ' at character ${i + 1} is never closed)`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= line.length) throw new SyntaxError(`unbalanced double quote (the " at character ${i + 1} is never closed)`);
        const d = line[j]!;
        if (d === '"') break;
        if (d === '\\' && j + 1 < line.length && '"\\$`\n'.includes(line[j + 1]!)) {
          if (line[j + 1] !== '\n') word += line[j + 1];
          j += 2;
        } else {
          word += d;
          j++;
        }
      }
      inWord = true;
      i = j + 1;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new SyntaxError('a backslash at the end escapes nothing');
      // Backslash-newline continues the line; any other character is taken as it is.
      if (line[i + 1] !== '\n') {
        word += line[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Why a server name is refused, or undefined when it is a good one. */
export function serverNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.length > MAX_NAME) return `is longer than ${MAX_NAME} characters`;
  if (name.includes('__')) return "contains '__' (it separates the server's name from the tool's)";
  if (!SERVER_NAME.test(name) || name.endsWith('_')) return "must be letters, digits, '-' and single '_', starting with a letter or digit and not ending in '_'";
  return undefined;
}

/** Any text as a server name: letters, digits and '-' (others become '-'), at most 64 characters; '' when none. */
export function sanitizeServerName(text: string): string {
  return text
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_NAME - 4)
    .replace(/-+$/, '');
}

// Programs that run another program or package: the name comes from what they run.
const LAUNCHERS: Record<string, { subcommands?: string[]; valueFlags?: string[] }> = {
  node: { valueFlags: ['-r', '--require', '--import', '--loader', '--experimental-loader', '--env-file', '--conditions', '-C', '--input-type'] },
  nodejs: { valueFlags: ['-r', '--require', '--import', '--loader'] },
  tsx: { valueFlags: ['--tsconfig', '--env-file'] },
  'ts-node': { valueFlags: ['-P', '--project', '-r', '--require', '-C', '--compiler'] },
  npx: { subcommands: ['exec'], valueFlags: ['-p', '--package', '-c', '--call', '--cache', '--registry'] },
  npm: { subcommands: ['exec', 'x'], valueFlags: ['-p', '--package', '-c', '--call', '--cache', '--registry', '-w', '--workspace'] },
  pnpm: { subcommands: ['dlx', 'exec'], valueFlags: ['--package', '-C', '--dir', '--filter'] },
  pnpx: { valueFlags: ['--package'] },
  yarn: { subcommands: ['dlx', 'exec', 'run'], valueFlags: ['-p', '--package'] },
  bun: { subcommands: ['x', 'run', 'exec'], valueFlags: ['--cwd', '--env-file', '-r', '--preload'] },
  bunx: { valueFlags: ['-p', '--package'] },
  deno: { subcommands: ['run'], valueFlags: ['--config', '-c', '--import-map', '--env-file', '--location', '--cert'] },
  uvx: { valueFlags: ['--from', '--with', '--python', '-p', '--index-url', '--extra-index-url', '--with-requirements'] },
  uv: { subcommands: ['run', 'tool'], valueFlags: ['--from', '--with', '--python', '-p', '--directory', '--project', '--with-requirements', '--env-file', '--index-url'] },
  pipx: { subcommands: ['run'], valueFlags: ['--spec', '--python', '--index-url'] },
  python: { valueFlags: ['-W', '-X', '-c'] },
  python3: { valueFlags: ['-W', '-X', '-c'] },
  docker: { subcommands: ['run', 'container'], valueFlags: ['-e', '--env', '--env-file', '-v', '--volume', '--mount', '--name', '-p', '--publish', '--network', '--net', '-w', '--workdir', '-u', '--user', '--platform', '--entrypoint', '-l', '--label', '--add-host', '--cpus', '-m', '--memory', '--pull', '--hostname', '-h'] },
  podman: { subcommands: ['run', 'container'], valueFlags: ['-e', '--env', '--env-file', '-v', '--volume', '--mount', '--name', '-p', '--publish', '--network', '--net', '-w', '--workdir', '-u', '--user', '--platform', '--entrypoint', '-l', '--label', '--pull', '--hostname', '-h'] },
  env: { valueFlags: ['-u', '--unset', '-C', '--chdir', '-S'] },
};

/** Directories that say where a script sits in its package, not what it is. */
const BUILD_DIRS = new Set(['dist', 'build', 'lib', 'out', 'bin', 'src', 'esm', 'cjs']);
const SCRIPT_EXTENSION = /\.(m?[jt]s|c[jt]s|py|rb|sh)$/i;
/** Script names that say nothing of the server: the package's directory names it instead. */
const GENERIC_SCRIPTS = new Set(['index', 'main', 'server', 'cli', 'start', 'run', 'app', 'mod', '__main__']);

function programName(command: string): string {
  return path.basename(command.replace(/\\/g, '/')).replace(/\.(exe|cmd|bat)$/i, '').toLowerCase();
}

/** A script's or package's name: the file without directory and extension, a package without scope and version. */
function nameOfTarget(target: string, kind: 'path' | 'package' | 'image' | 'module'): string {
  if (kind === 'module') return target.split('.').filter((part) => part !== '__main__').pop() ?? target;
  if (kind === 'image') {
    // registry/owner/name:tag@digest → name
    const withoutDigest = target.split('@')[0]!;
    const last = withoutDigest.split('/').pop()!;
    return last.replace(/:[^:]*$/, '');
  }
  if (kind === 'package') {
    // @scope/name@1.2.3, name@latest, git+https://…/name.git, or a path (handled below)
    if (/^(@[^/]+\/)?[^/@\s]+(@[^/]*)?$/.test(target)) return target.replace(/^@[^/]+\//, '').replace(/@.*$/, '').replace(SCRIPT_EXTENSION, '');
  }
  const parts = target.replace(/\\/g, '/').replace(/\/+$/, '').split('/').filter(Boolean);
  let base = (parts.pop() ?? target).replace(/\.git$/, '');
  const extension = path.extname(base);
  if (extension && extension.length <= 5) base = base.slice(0, -extension.length);
  if (GENERIC_SCRIPTS.has(base.toLowerCase())) {
    while (parts.length > 0 && BUILD_DIRS.has(parts[parts.length - 1]!.toLowerCase())) parts.pop();
    const owner = parts.pop();
    if (owner && owner !== '.' && owner !== '..' && !owner.startsWith('@')) return owner;
  }
  return base;
}

/** The name a stdio server gets from its command line when none is given (unsanitized). */
function derivedStdioName(command: string, args: string[]): string {
  let program = programName(command);
  let rest = args;
  // Launchers in a row (env FOO=1 npx -y pkg): each hands over to what follows its own options.
  for (let hops = 0; hops < 4; hops++) {
    const launcher = LAUNCHERS[program] ?? (/^python3(\.\d+)?$/.test(program) ? LAUNCHERS.python3 : undefined);
    if (!launcher) break;
    let i = 0;
    let target: { text: string; kind: 'path' | 'package' | 'image' | 'module'; at: number } | undefined;
    while (i < rest.length) {
      const arg = rest[i]!;
      if (arg === '--') {
        i++;
        continue;
      }
      if (program.startsWith('python') && arg === '-m' && rest[i + 1] !== undefined) {
        target = { text: rest[i + 1]!, kind: 'module', at: i + 1 };
        break;
      }
      if (program === 'env' && /^[A-Za-z_][A-Za-z0-9_]*=/.test(arg)) {
        i++;
        continue;
      }
      if (arg.startsWith('-')) {
        i += launcher.valueFlags?.includes(arg) ? 2 : 1;
        continue;
      }
      if (launcher.subcommands?.includes(arg)) {
        i++;
        continue;
      }
      const kind = program === 'docker' || program === 'podman' ? 'image' : ['npx', 'npm', 'pnpm', 'pnpx', 'yarn', 'bunx', 'uvx', 'pipx', 'uv'].includes(program) ? 'package' : 'path';
      target = { text: arg, kind, at: i };
      break;
    }
    if (!target) return program;
    // `npx tsx server.ts`, `env npx …`, `uv run python -m pkg`: the package launches in turn.
    const next = programName(target.text);
    if (target.kind !== 'image' && target.kind !== 'module' && (LAUNCHERS[next] || /^python3(\.\d+)?$/.test(next)) && next !== program) {
      program = next;
      rest = rest.slice(target.at + 1);
      continue;
    }
    return nameOfTarget(target.text, target.kind);
  }
  return nameOfTarget(command, 'path');
}

/**
 * The name an HTTP server gets from its URL when none is given (unsanitized): the host without its top-level domain
 * and a leading www., mcp. or api. (mcp.example.com → example); an address or a one-label host as it is.
 */
function derivedUrlName(url: URL): string {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (/^[\d.]+$/.test(host) || host.includes(':')) return host;
  const labels = host.split('.').filter(Boolean);
  if (labels.length < 2) return host;
  labels.pop();
  if (labels.length > 1 && ['www', 'mcp', 'api'].includes(labels[0]!.toLowerCase())) labels.shift();
  return labels.join('-');
}

interface Given {
  flag: '--mcp' | '--mcp-url';
  text: string;
  name?: string;
  derived: string;
  config: Omit<McpStdioServerConfig, 'name'> | Omit<McpHttpServerConfig, 'name'>;
}

function repeated(values: CliValues, name: string): string[] {
  const value = values[name];
  return typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
}

function refuse(flag: string, text: string, problem: string): CliError {
  return CliError.usage(`${flag} ${JSON.stringify(text)}: ${problem}`);
}

function checkedName(flag: string, text: string, name: string): string {
  const problem = serverNameProblem(name);
  if (problem) throw refuse(flag, text, `the server name '${name}' ${problem}`);
  return name;
}

function stdioServer(text: string): Given {
  const flag = '--mcp';
  let words: string[];
  try {
    words = splitCommandLine(text);
  } catch (err) {
    throw refuse(flag, text, (err as Error).message);
  }
  let name: string | undefined;
  // NAME=COMMAND: a first word with '=' before any '/' names the server (a path may hold '=' after a '/').
  const named = words.length > 0 ? /^([^=/\\]+)=([\s\S]*)$/.exec(words[0]!) : null;
  if (named) {
    name = checkedName(flag, text, named[1]!);
    words = named[2] === '' ? words.slice(1) : [named[2]!, ...words.slice(1)];
  }
  const [command, ...args] = words;
  if (command === undefined || command.trim() === '') {
    throw refuse(flag, text, `no command to start${name ? ` for '${name}'` : ''}: give it as --mcp "${name ?? 'NAME'}=COMMAND ARGS…", e.g. --mcp "files=npx -y @modelcontextprotocol/server-filesystem /tmp"`);
  }
  return { flag, text, ...(name !== undefined ? { name } : {}), derived: sanitizeServerName(derivedStdioName(command, args)), config: { command, args } };
}

function httpServer(text: string, env: NodeJS.ProcessEnv): Given {
  const flag = '--mcp-url';
  let name: string | undefined;
  let rest = text.trim();
  // NAME=URL: a name has no ':' or '/', which every URL has before its first '='.
  const named = /^([^=:/]+)=([\s\S]*)$/.exec(rest);
  if (named) {
    name = checkedName(flag, text, named[1]!.trim());
    rest = named[2]!.trim();
  }
  if (rest === '') throw refuse(flag, text, `no URL${name ? ` for '${name}'` : ''}: give it as --mcp-url [NAME=]https://HOST/mcp`);
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw refuse(flag, text, `'${rest}' is not a URL: give an http:// or https:// URL, e.g. https://mcp.example.com/mcp`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse(flag, text, `the URL must be http:// or https:// (Streamable HTTP), got ${url.protocol}//`);
  if (url.username || url.password) throw refuse(flag, text, `put no credentials in the URL: set ${MCP_AUTHORIZATION_ENV} instead (sent as the Authorization header)`);
  // The header's value stays in the environment: only the variable's name is in the configuration.
  const authorization = env[MCP_AUTHORIZATION_ENV];
  const headers: McpHttpServerConfig['headers'] = authorization !== undefined && authorization.trim() !== '' ? { Authorization: { env: MCP_AUTHORIZATION_ENV } } : undefined;
  return { flag, text, ...(name !== undefined ? { name } : {}), derived: sanitizeServerName(derivedUrlName(url)), config: { url: url.href, ...(headers ? { headers } : {}) } };
}

/**
 * The MCP servers --mcp and --mcp-url stand for, in the order given (all of --mcp, then --mcp-url). A name given with
 * NAME= is kept (two alike are refused); a derived one gets -2, -3… when taken.
 */
export function mcpServerConfigs(values: CliValues, env: NodeJS.ProcessEnv = process.env): McpServerConfig[] {
  const given = [...repeated(values, 'mcp').map((text) => stdioServer(text)), ...repeated(values, 'mcp-url').map((text) => httpServer(text, env))];
  const taken = new Map<string, Given>();
  for (const server of given) {
    if (server.name === undefined) continue;
    const other = taken.get(server.name.toLowerCase());
    if (other) throw CliError.usage(`two MCP servers are named '${server.name}' (${other.flag} ${JSON.stringify(other.text)} and ${server.flag} ${JSON.stringify(server.text)}): give each its own NAME=`);
    taken.set(server.name.toLowerCase(), server);
  }
  return given.map((server) => {
    let name = server.name;
    if (name === undefined) {
      const base = server.derived || 'mcp';
      name = base;
      for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}-${n}`;
      taken.set(name.toLowerCase(), server);
    }
    return { name, ...server.config } as McpServerConfig;
  });
}

/** How a server is shown to people: its command line or URL, as given (without NAME=). */
export function describeMcpServer(config: McpServerConfig): string {
  if ('url' in config) return config.url;
  const quote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);
  return [config.command, ...(config.args ?? [])].map(quote).join(' ');
}
