/**
 * Checks a single executable without running it: the ELF machine, the SEA fuse, and the blob
 * postject stored in a PT_NOTE entry named NODE_SEA_BLOB (where Node looks it up at start).
 * This is how an arm64 build is verified on an x64 host; on x64 the same check is corroborated
 * by actually running the executable.
 */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const NOTE_NAME = 'NODE_SEA_BLOB'
const PT_NOTE = 4

export const ELF_MACHINES: Record<number, string> = {62: 'x86-64', 183: 'aarch64'}

export interface SeaInfo {
  /** e_machine, e.g. 62 (x86-64) or 183 (aarch64). */
  machine: number
  machineName: string
  /** true when the fuse reads `:1`, i.e. Node will look for the blob. */
  fuseFlipped: boolean
  /** The NODE_SEA_BLOB note's payload; undefined when there is none. */
  blob: Buffer | undefined
}

export function inspectSea(file: Buffer): SeaInfo {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file')
  if (file[4] !== 2 || file[5] !== 1) throw new Error('not a 64-bit little-endian ELF file')
  const machine = file.readUInt16LE(0x12)
  const phoff = Number(file.readBigUInt64LE(0x20))
  const phentsize = file.readUInt16LE(0x36)
  const phnum = file.readUInt16LE(0x38)
  let blob: Buffer | undefined
  for (let i = 0; i < phnum && blob === undefined; i++) {
    const ph = phoff + i * phentsize
    if (file.readUInt32LE(ph) !== PT_NOTE) continue
    const offset = Number(file.readBigUInt64LE(ph + 8))
    const size = Number(file.readBigUInt64LE(ph + 32))
    const align = Number(file.readBigUInt64LE(ph + 48)) === 8 ? 8 : 4
    blob = findNote(file.subarray(offset, offset + size), align)
  }
  const fuseAt = file.indexOf(SEA_FUSE + ':')
  if (fuseAt < 0) throw new Error('no SEA fuse: this Node binary cannot carry a single executable application')
  const fuseFlipped = file[fuseAt + SEA_FUSE.length + 1] === 0x31
  return {machine, machineName: ELF_MACHINES[machine] ?? `machine ${machine}`, fuseFlipped, blob}
}

function findNote(notes: Buffer, align: number): Buffer | undefined {
  const pad = (n: number) => Math.ceil(n / align) * align
  let at = 0
  while (at + 12 <= notes.length) {
    const namesz = notes.readUInt32LE(at)
    const descsz = notes.readUInt32LE(at + 4)
    const nameStart = at + 12
    const descStart = nameStart + pad(namesz)
    const name = notes.toString('latin1', nameStart, nameStart + Math.max(0, namesz - 1))
    if (name === NOTE_NAME) return notes.subarray(descStart, descStart + descsz)
    at = descStart + pad(descsz)
  }
  return undefined
}
