// `map` reads captures inside tarballs straight from the stream, with the same figures as the extracted files.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {HAVE_SHARED, SHARED, hasTool, runCli, tempDir} from './helpers.js'
import type {DatasetMeta, FileMeta} from '../src/dataset/metadata.js'

const PICK = ['zeek__5-pings.pcap', 'zeek__cooper-grill-dvwa.pcapng', 'zeek__tls-fragmented-handshake.pcap.gz', 'tcpdump__tcp-handshake-nano.pcap', 'mercury__4SICS-GeekLounge-151020.pcap']

function figures(f: FileMeta): string {
  return [f.packets, f.size, f.data_size, f.max_packet_size, f.beginning, f.end, f.beginning_epoch, f.end_epoch, f.out_of_order, f.format, f.ts_precision, f.error].join(' ')
}

function mapJson(args: string[]): DatasetMeta {
  const r = runCli(['map', '--json', ...args])
  assert.equal(r.status, 0, r.stderr.toString())
  return JSON.parse(r.stdout.toString())
}

test('map of a tarball (plain and gzip) equals map of the extracted files', {skip: !HAVE_SHARED || !hasTool('tar')}, (t) => {
  const dir = tempDir(t)
  const tree = join(dir, 'tree')
  for (const [i, name] of PICK.entries()) {
    mkdirSync(join(tree, `sensor-${i % 2}`), {recursive: true})
    copyFileSync(join(SHARED, name), join(tree, `sensor-${i % 2}`, name))
  }
  writeFileSync(join(tree, 'README.txt'), 'not a capture')
  execFileSync('tar', ['-cf', join(dir, 'set.tar'), '-C', tree, '.'])
  execFileSync('tar', ['-czf', join(dir, 'set.tgz'), '-C', tree, '.'])
  const extracted = new Map(mapJson([tree]).files.map((f) => [f.path.slice(tree.length + 1), figures(f)]))
  assert.equal(extracted.size, PICK.length)
  for (const archive of ['set.tar', 'set.tgz']) {
    const meta = mapJson([join(dir, archive)])
    const members = new Map(meta.files.map((f) => [f.path.slice(join(dir, archive).length + 1).replace(/^\.\//, ''), figures(f)]))
    assert.deepEqual(members, extracted, archive)
    for (const f of meta.files) assert.match(f.path, new RegExp(`${archive}#`))
  }
})

test('a truncated tarball keeps its complete members and names the broken one', {skip: !HAVE_SHARED || !hasTool('tar')}, (t) => {
  const dir = tempDir(t)
  for (const name of ['zeek__5-pings.pcap', 'mercury__4SICS-GeekLounge-151020.pcap']) copyFileSync(join(SHARED, name), join(dir, name))
  const tarball = join(dir, 'cut.tar')
  execFileSync('tar', ['-cf', tarball, '-C', dir, 'zeek__5-pings.pcap', 'mercury__4SICS-GeekLounge-151020.pcap'])
  truncateSync(tarball, Math.floor(readFileSync(tarball).length / 2))
  const r = runCli(['map', '--json', tarball])
  assert.equal(r.status, 1)
  const meta: DatasetMeta = JSON.parse(r.stdout.toString())
  const pings = meta.files.find((f) => f.path.endsWith('#zeek__5-pings.pcap'))!
  assert.equal(pings.packets, 10)
  assert.equal(pings.error, null)
  const broken = meta.files.filter((f) => f.error !== null)
  assert.ok(broken.length >= 1)
  assert.match(broken.map((f) => f.error).join('\n'), /mercury__4SICS-GeekLounge-151020\.pcap/)
})

test('replay reads tarball members, directly and through map\'s JSON, like the extracted files', {skip: !HAVE_SHARED || !hasTool('tar')}, (t) => {
  const dir = tempDir(t)
  const tree = join(dir, 'tree')
  mkdirSync(join(tree, 'a'), {recursive: true})
  mkdirSync(join(tree, 'b'), {recursive: true})
  copyFileSync(join(SHARED, 'zeek__5-pings.pcap'), join(tree, 'a', 'pings.pcap'))
  copyFileSync(join(SHARED, 'gopacket__test_dns.pcap'), join(tree, 'b', 'dns.pcap'))
  const tarball = join(dir, 'set.tar.gz')
  execFileSync('tar', ['-czf', tarball, '-C', tree, 'a', 'b'])
  const replay = (inputs: string[], out: string): Buffer => {
    const r = runCli(['replay', ...inputs, '--out-file', join(dir, out), '--keep-timestamps', '--topspeed'])
    assert.equal(r.status, 0, r.stderr.toString())
    return readFileSync(join(dir, out))
  }
  const fromTree = replay([tree], 'tree.pcap')
  assert.deepEqual(replay([tarball], 'tarball.pcap'), fromTree)
  assert.equal(runCli(['map', tarball, '--dump-json', join(dir, 'set.json')]).status, 0)
  assert.deepEqual(replay(['--dump-json', join(dir, 'set.json')], 'json.pcap'), fromTree)
})
