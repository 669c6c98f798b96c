import {CaptureReader} from '../pcap/reader.js'
import {describeError} from '../pcap/errors.js'
import {streamSource} from '../pcap/source.js'
import {openTarball} from '../archive/tar-source.js'
import {tarMembers} from '../archive/tar-members.js'
import {memberName} from '../archive/member-name.js'
import {acceptsName} from './discover.js'
import {StatsAccumulator, finishSummary} from './file-stats.js'
import {mapReader, type MapResult} from './map-file.js'

/**
 * Maps the capture members of a tarball straight from the stream (no temporary files), each as ARCHIVE#member.
 * A tarball that breaks adds an entry for the archive itself with the error.
 */
export async function mapTarball(path: string, select: {suffixes: string[]; regexp: string | null}): Promise<MapResult[]> {
  const results: MapResult[] = []
  const regexp = select.regexp === null ? null : new RegExp(select.regexp)
  try {
    const tarball = await openTarball(path)
    const wanted = (member: string, header: {type?: string | null}): boolean =>
      header.type === 'file' && acceptsName(member, select.suffixes) && (!regexp || regexp.test(`${path}#${member}`))
    for await (const m of tarMembers(tarball.tarBytes, wanted)) {
      const name = memberName(path, m.path)
      const member = {size: m.header.size ?? 0, mtimeMs: m.header.mtime?.getTime() ?? 0}
      let reader: CaptureReader
      try {
        const {source, gzip} = await streamSource(m.stream)
        reader = await CaptureReader.fromSource(source, name, gzip)
      } catch (e) {
        results.push({path: name, member, summary: finishSummary(null, new StatsAccumulator(), describeError(e, name))})
        continue
      }
      results.push({...(await mapReader(name, reader, false)), member})
    }
  } catch (e) {
    results.push({path, summary: finishSummary(null, new StatsAccumulator(), describeError(e, path))})
  }
  return results
}
