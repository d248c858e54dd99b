// placeholder replaced by the config work
export function runValidateConfig(_path: string | undefined, _env: NodeJS.ProcessEnv, io: {out(s: string): void; err(s: string): void}): number {
  io.err('not implemented\n')
  return 1
}
