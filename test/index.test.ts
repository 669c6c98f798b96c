// The field index survives a map killed at any moment: each file is either its old or its new state, and the
// next map repairs what the kill left behind; older layouts are rebuilt; group offsets come back exactly from blocks.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {copyFileSync} from 'node:fs'
import {join} from 'node:path'
import {Level} from 'level'
import {HAVE_SHARED, ROOT, SHARED, errorText, hasTool, runCli, tempDir} from './helpers.js'
import {FlowIndexer} from '../src/dataset/flow-indexer.js'
import {StatsAccumulator} from '../src/dataset/file-stats.js'
import {GROUPS_PER_BLOCK, decodeAscending, encodeFileIndex, packedValue} from '../src/index/layout.js'
import {GroupOffsets} from '../src/query/group-offsets.js'

const FILES = ['mercury__4SICS-GeekLounge-151020.pcap', 'zeek__echo-connections.pcap', 'tcpreplay__test.pcap', 'zeek__ssh.pcap']
const FILTER = 'tcp port 22 or udp port 53'

function tcpdumpCount(files: string[]): number {
  let n = 0
  for (const f of files) {
    const r = spawnSync('tcpdump', ['-r', f, '-w', '-', FILTER], {maxBuffer: 1 << 28})
    n += spawnSync('tcpdump', ['-r', '-'], {input: r.stdout, maxBuffer: 1 << 28}).stdout.toString().split('\n').filter(Boolean).length
  }
  return n
}

function killAfter(args: string[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {stdio: 'ignore'})
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    child.on('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

test('kill -9 during map leaves a usable index that the next map repairs', {skip: !HAVE_SHARED || !hasTool('tcpdump'), timeout: 300_000}, async (t) => {
  const dir = tempDir(t)
  const paths = FILES.map((f) => join(dir, f))
  FILES.forEach((f, i) => copyFileSync(join(SHARED, f), paths[i]))
  const json = join(dir, 'set.json')
  const db = join(dir, 'set.index')
  assert.equal(runCli(['map', dir, '--dump-json', json]).status, 0)
  const expected = tcpdumpCount(paths)
  assert.ok(expected > 100)
  for (const ms of [150, 400, 700, 1000, 1500]) {
    // Swap two files' contents so every re-map must replace index entries, then kill the re-map midway.
    copyFileSync(join(SHARED, FILES[1]), paths[0])
    copyFileSync(join(SHARED, FILES[0]), paths[1])
    await killAfter(['map', dir, '--dump-json', json, '--force'], ms)
    // Whatever the kill left: a clear "changed since mapped" error, never wrong packets or a broken index.
    const q = runCli(['query', FILTER, '--db', db, '--count'])
    if (q.status === 0) assert.equal(Number(q.stdout.toString()), expected, `after a kill at ${ms} ms`)
    else assert.match(errorText(q), /changed since/, `after a kill at ${ms} ms: ${q.stderr}`)
    const again = runCli(['map', dir, '--dump-json', json])
    assert.equal(again.status, 0, again.stderr.toString())
    assert.equal(Number(runCli(['query', FILTER, '--db', db, '--count']).stdout.toString()), expected)
    // Restore the originals for the next round.
    FILES.forEach((f, i) => copyFileSync(join(SHARED, f), paths[i]))
    assert.equal(runCli(['map', dir, '--dump-json', json]).status, 0)
  }
})

test('an index in an older key layout is cleared and rebuilt by the next map', {skip: !HAVE_SHARED || !hasTool('tcpdump')}, async (t) => {
  const dir = tempDir(t)
  const db = join(dir, 'old.index')
  const old = new Level<string, string>(db)
  await old.batch([
    {type: 'put', key: 'v1/meta', value: '{"version":1,"nextFileId":2}'},
    {type: 'put', key: 'v1/p/' + join(SHARED, FILES[3]), value: '00000001'},
    {type: 'put', key: 'v1/fl/00000001/00000000', value: 'stale'},
  ])
  await old.close()
  // Until it is re-mapped, a query says the index is too old rather than answering nothing.
  const early = runCli(['query', FILTER, '--db', db, '--format', 'text'])
  assert.equal(early.status, 1)
  assert.match(errorText(early), /written by an older pcapkit \(layout v1\): run `pcapkit map`/)
  const input = join(SHARED, FILES[3])
  const map = runCli(['map', input, '--db', db])
  assert.equal(map.status, 0, errorText(map))
  const reopened = new Level<string, string>(db)
  const leftovers = await reopened.keys({gte: 'v1/', lt: 'v10'}).all()
  await reopened.close()
  assert.deepEqual(leftovers, [])
  const q = runCli(['query', FILTER, '--db', db, '--format', 'text'])
  assert.equal(q.status, 0, errorText(q))
  assert.equal(q.stdout.toString().split('\n').filter(Boolean).length, tcpdumpCount([input]))
})

test('group offsets stored in blocks give back every group\'s start and end, across block boundaries', () => {
  // 2.5 blocks of groups with uneven sizes, then the end of the last record.
  const groups = 2 * GROUPS_PER_BLOCK + 500
  const starts = new Float64Array(groups + 1)
  for (let g = 1; g <= groups; g++) starts[g] = starts[g - 1] + 100 + ((g * 7919) % 3000)
  const encoded = encodeFileIndex(new FlowIndexer(new StatsAccumulator()).finish(), starts)
  assert.equal(encoded.groupBlocks.ends.length, 3)
  assert.equal(encoded.indexedEnd, starts[groups])
  const offsets = new GroupOffsets()
  const wanted = [0, GROUPS_PER_BLOCK - 1, GROUPS_PER_BLOCK, 2 * GROUPS_PER_BLOCK + 3, groups - 1]
  assert.deepEqual(offsets.missing(wanted), [0, 1, 2])
  for (const b of [0, 1, 2]) offsets.blocks.set(b, decodeAscending(packedValue(encoded.groupBlocks, b)))
  for (let g = 0; g < groups; g++) {
    assert.equal(offsets.start(g), starts[g], `start of group ${g}`)
    assert.equal(offsets.end(g), starts[g + 1], `end of group ${g}`)
  }
  assert.deepEqual(offsets.missing(wanted), [])
})
