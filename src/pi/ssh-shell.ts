/**
 * Words for the remote shell: what `ssh HOST COMMAND` hands to the user's login shell on the Pi
 * (bash on Raspberry Pi OS; any POSIX shell). Every path is quoted, so that spaces and quotes in
 * it reach the Pi as they are; a leading `~` becomes "$HOME", which the remote shell expands.
 *
 *   remotePath('~/llama2-embed')   // "$HOME"/'llama2-embed'
 *   shellQuote("it's")             // 'it'\''s'
 */

/** One word for a POSIX shell, quoted only when it needs to be. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A remote path as a shell word: `~` and `~/…` are the remote user's home, the rest is literal. */
export function remotePath(path: string): string {
  if (path === '~') return '"$HOME"';
  if (path.startsWith('~/')) {
    const rest = path.slice(2).replace(/\/+$/, '');
    return rest ? `"$HOME"/${shellQuote(rest)}` : '"$HOME"';
  }
  return shellQuote(path.length > 1 ? path.replace(/\/+$/, '') : path);
}

/** `dir/name` as a shell word, `dir` as given to remotePath. */
export function remoteFile(dir: string, name: string): string {
  return `${remotePath(dir)}/${shellQuote(name)}`;
}

/** How a remote path is shown to the user: `pi@raspberrypi.local:~/llama2-embed/llama2`. */
export function displayRemote(host: string, dir: string, name?: string): string {
  const trimmed = dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
  return `${host}:${name ? `${trimmed}/${name}` : trimmed}`;
}
