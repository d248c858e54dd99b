/**
 * Files the agent writes for the programs it runs: a pgpass with a password for post_bootstrap
 * or a replica method, which must never appear on a command line or in the environment.
 *
 * Contract: withPrivateFile writes `content` into a new file only its owner can read (mode 0600,
 * in a fresh directory of mode 0700), calls `fn` with the file's path, and removes the file and
 * its directory when `fn` settles, whether it resolved or rejected; the result or the error of
 * `fn` passes through unchanged. Two calls never share a file.
 */
export interface Files {
  withPrivateFile<T>(name: string, content: string, fn: (path: string) => Promise<T>): Promise<T>
}
