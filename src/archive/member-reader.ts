import {existsSync} from 'node:fs'
import {CaptureReader} from '../pcap/reader.js'
import {CaptureError} from '../pcap/errors.js'
import {streamSource, type ByteSource} from '../pcap/source.js'
import {splitMemberName} from './member-name.js'
import {openTarball} from './tar-source.js'
import {tarMembers} from './tar-members.js'

/**
 * Opens a capture by name: a file, or ARCHIVE#member, a capture inside a tarball, read straight from the tarball's
 * stream (no temporary file). Each open streams the tarball up to its member, so opening many members of one
 * tarball at once (a replay merge) reads its start several times.
 */
export async function openCapture(name: string): Promise<CaptureReader> {
  const member = splitMemberName(name)
  if (!member || existsSync(name)) return CaptureReader.open(name)
  const tarball = await openTarball(member.archive)
  const members = tarMembers(tarball.tarBytes, (path, header) => path === member.member && header.type === 'file')
  const found = await members.next()
  if (found.done) {
    throw new CaptureError(`${name}: no capture member ${member.member} in ${member.archive}`, 'IO', name, 0)
  }
  const {source, gzip} = await streamSource(found.value.stream)
  // Closing the reader also ends the walk of the tarball, which releases the file.
  const closing: ByteSource = {
    read: (buf, offset, length) => source.read(buf, offset, length),
    get consumed() {
      return source.consumed
    },
    close: async () => {
      await source.close()
      await members.return(undefined)
    },
  }
  return CaptureReader.fromSource(closing, name, gzip)
}
