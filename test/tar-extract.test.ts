import assert from 'node:assert/strict'
import {copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import test from 'node:test'
import {gunzipSync, gzipSync} from 'node:zlib'
import tar, {type Pack} from 'tar-stream'
import {HAVE_SHARED, runCli, SHARED, tempDir, tool} from './helpers.js'

/** The tree packed by GNU tar: two folders holding a member of the same name (x.pcap) with different bytes. */
const TREE: Record<string, string> = {
  'a/x.pcap': 'zeek__ssh.pcap',
  'a/dns.pcap': 'gopacket__test_dns.pcap',
  'a/test.pcapng': 'hadrielk__le_test010.pcapng',
  'b/x.pcap': 'tcpreplay__test.pcap',
  'b/sub/echo.pcap.gz': 'zeek__echo-connections.pcap.gz',
  'b/notes.txt': 'README.md',
  // Longer than the 100 bytes a ustar name holds: GNU tar stores it in an extra long-name entry.
  [`b/${'deeper/'.repeat(16)}long-path.pcapng`]: 'zeek__pcapng-multi-interface.pcapng',
}
const LONG = Object.keys(TREE).find((path) => path.length > 100)!
const PCAPS = ['a/dns.pcap', 'a/x.pcap', 'b/x.pcap']

interface Packed {
  dir: string
  src: string
  archive: string
}

/** Copies TREE into DIR/src and packs it with GNU tar (gzip when asked) as DIR/NAME. */
function pack(dir: string, name: string, gzip: boolean): Packed {
  const src = join(dir, 'src')
  for (const [path, shared] of Object.entries(TREE)) {
    mkdirSync(join(src, path, '..'), {recursive: true})
    copyFileSync(join(SHARED, shared), join(src, path))
  }
  const archive = join(dir, name)
  tool('tar', [gzip ? '-czf' : '-cf', archive, '-C', src, 'a', 'b'])
  return {dir, src, archive}
}

/** Files under `dir`, relative and sorted, hidden ones (temp files) included. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {recursive: true, encoding: 'utf8'})
    .filter((path) => !lstatSync(join(dir, path)).isDirectory())
    .sort()
}

function extract(args: string[], input?: Buffer): {status: number | null; stdout: string; stderr: string} {
  const r = runCli(['tar-extract', ...args], {input})
  return {status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString()}
}

interface JsonResult {
  gzip: boolean
  members: {path: string; size: number; mtime: string; dest: string}[]
  skipped: {path: string; type: string; code: string; reason: string}[]
  summary: {seen: number; matched: number; extracted: number; skipped: number; failure: {member: string; message: string} | null}
}

function extractJson(args: string[]): {status: number | null; result: JsonResult} {
  const r = extract([...args, '--json'])
  return {status: r.status, result: JSON.parse(r.stdout) as JsonResult}
}

for (const [kind, name, gzip] of [['plain', 'set.tar', false], ['gzip', 'set.tgz', true], ['gzip named .tar', 'gz.tar', true]] as const) {
  test(`${kind} tarball: every member comes out byte-identical, folders kept`, {skip: !HAVE_SHARED}, (t) => {
    const {dir, src, archive} = pack(tempDir(t), name, gzip)
    const out = join(dir, 'out')
    const {status, result} = extractJson(['--in-tarball', archive, '--out-dir', out])
    assert.equal(status, 0)
    assert.equal(result.gzip, gzip)
    assert.deepEqual(filesUnder(out), Object.keys(TREE).sort())
    for (const path of Object.keys(TREE)) assert.ok(readFileSync(join(out, path)).equals(readFileSync(join(src, path))), path)
    assert.deepEqual(result.summary, {...result.summary, matched: 7, extracted: 7, skipped: 0, failure: null})
  })
}

test('--file-regexp selects by member path; same-named members in two folders both survive', {skip: !HAVE_SHARED}, (t) => {
  const {dir, src, archive} = pack(tempDir(t), 'set.tgz', true)
  const out = join(dir, 'out')
  const r = extract(['--in-tarball', archive, '--file-regexp', '\\.pcap$', '--out-dir', out])
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(filesUnder(out), PCAPS)
  assert.ok(!readFileSync(join(out, 'a/x.pcap')).equals(readFileSync(join(out, 'b/x.pcap'))))
  for (const path of PCAPS) assert.ok(readFileSync(join(out, path)).equals(readFileSync(join(src, path))), path)
  assert.match(r.stderr, /3 selected, 3 extracted/)
})

test('--out-gzip writes NAME.gz files that gunzip to the original bytes', {skip: !HAVE_SHARED}, (t) => {
  const {dir, src, archive} = pack(tempDir(t), 'set.tar', false)
  const out = join(dir, 'out')
  const r = extract(['--in-tarball', archive, '--file-regexp', '^a/', '--out-dir', out, '--out-gzip'])
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(filesUnder(out), ['a/dns.pcap.gz', 'a/test.pcapng.gz', 'a/x.pcap.gz'])
  for (const path of ['a/dns.pcap', 'a/test.pcapng', 'a/x.pcap']) {
    assert.ok(gunzipSync(readFileSync(join(out, `${path}.gz`))).equals(readFileSync(join(src, path))), path)
    assert.ok(tool('gunzip', ['-c', join(out, `${path}.gz`)]).equals(readFileSync(join(src, path))), `${path} via gunzip`)
  }
})

test('--flatten reports a name collision and keeps the first file', {skip: !HAVE_SHARED}, (t) => {
  const {dir, src, archive} = pack(tempDir(t), 'set.tgz', true)
  const out = join(dir, 'out')
  const {status, result} = extractJson(['--in-tarball', archive, '--file-regexp', '\\.pcap$', '--out-dir', out, '--flatten'])
  assert.equal(status, 3, 'some selected members were skipped')
  assert.deepEqual(filesUnder(out), ['dns.pcap', 'x.pcap'])
  assert.ok(readFileSync(join(out, 'x.pcap')).equals(readFileSync(join(src, 'a/x.pcap'))), 'the first x.pcap is not overwritten')
  assert.deepEqual(result.skipped.map(({path, code}) => ({path, code})), [{path: 'b/x.pcap', code: 'collision'}])
  assert.match(result.skipped[0].reason, /x\.pcap is already taken by a\/x\.pcap/)
})

test('existing files are kept unless --overwrite', {skip: !HAVE_SHARED}, (t) => {
  const {dir, src, archive} = pack(tempDir(t), 'set.tar', false)
  const out = join(dir, 'out')
  mkdirSync(join(out, 'a'), {recursive: true})
  writeFileSync(join(out, 'a/x.pcap'), 'keep me')
  const kept = extractJson(['--in-tarball', archive, '--file-regexp', '^a/x\\.pcap$', '--out-dir', out])
  assert.equal(kept.status, 3)
  assert.equal(readFileSync(join(out, 'a/x.pcap'), 'utf8'), 'keep me')
  assert.deepEqual(kept.result.skipped.map((s) => s.code), ['exists'])
  const replaced = extract(['--in-tarball', archive, '--file-regexp', '^a/x\\.pcap$', '--out-dir', out, '--overwrite'])
  assert.equal(replaced.status, 0, replaced.stderr)
  assert.ok(readFileSync(join(out, 'a/x.pcap')).equals(readFileSync(join(src, 'a/x.pcap'))))
  assert.deepEqual(filesUnder(out), ['a/x.pcap'], 'no temp file left behind')
  mkdirSync(join(out, 'a/dns.pcap'))
  const folder = extractJson(['--in-tarball', archive, '--file-regexp', '^a/dns', '--out-dir', out, '--overwrite'])
  assert.equal(folder.status, 3, 'a folder in the way is skipped, not a failure')
  assert.deepEqual(folder.result.skipped.map((s) => s.reason), ['a/dns.pcap is a folder in the out dir'])
})

test('--dryrun writes nothing and lists path, size and mtime', {skip: !HAVE_SHARED}, (t) => {
  const {dir, src, archive} = pack(tempDir(t), 'set.tgz', true)
  const out = join(dir, 'out')
  const {status, result} = extractJson(['--in-tarball', archive, '--file-regexp', '\\.pcap$', '--out-dir', out, '--dryrun'])
  assert.equal(status, 0)
  assert.equal(existsSync(out), false, 'the out dir is not even created')
  assert.deepEqual(result.members.map((m) => m.path).sort(), PCAPS)
  for (const member of result.members) {
    const info = statSync(join(src, member.path))
    assert.equal(member.size, info.size, member.path)
    assert.equal(Date.parse(member.mtime) / 1000, Math.floor(info.mtimeMs / 1000), member.path)
  }
  const text = extract(['--in-tarball', archive, '--file-regexp', '^b/x', '--out-dir', out, '--dryrun'])
  assert.equal(text.status, 0)
  assert.equal(text.stdout, `b/x.pcap\t${statSync(join(src, 'b/x.pcap')).size}\t${new Date(Math.floor(statSync(join(src, 'b/x.pcap')).mtimeMs / 1000) * 1000).toISOString()}\n`)
  assert.equal(existsSync(out), false)
})

/** A tarball no honest tool would write: every way out of the out dir, plus special files, between two good files. */
async function craftedTarball(outside: string, absolute: string): Promise<Buffer> {
  const p = tar.pack()
  const entries: [Parameters<Pack['entry']>[0], string?][] = [
    [{name: 'good-1.txt'}, 'first'],
    [{name: absolute}, 'absolute'],
    [{name: '../escape.txt'}, 'dot-dot'],
    [{name: 'deep/../../escape2.txt'}, 'dot-dot inside'],
    [{name: 'link-out', type: 'symlink', linkname: `../${outside}`}],
    [{name: 'link-out/through.txt'}, 'written under the link name'],
    [{name: 'link-abs', type: 'symlink', linkname: '/etc/passwd'}],
    [{name: 'link-in', type: 'symlink', linkname: 'good-1.txt'}],
    [{name: 'hard-out', type: 'link', linkname: '../outside.txt'}],
    [{name: 'dev-null', type: 'character-device', devmajor: 1, devminor: 3}],
    [{name: 'disk', type: 'block-device', devmajor: 8, devminor: 0}],
    [{name: 'pipe', type: 'fifo'}],
    [{name: 'sneaky/file.txt'}, 'through an existing symlink'],
    [{name: 'good-2.txt'}, 'last'],
  ]
  for (const [header, body] of entries) p.entry(header, body ?? '')
  p.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of p) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

test('a crafted tarball cannot write outside the out dir; each unsafe member is skipped with a reason', async (t) => {
  const parent = tempDir(t)
  const absolute = join(parent, 'absolute-target', 'evil.txt')
  const archive = join(parent, 'crafted.tar')
  writeFileSync(archive, await craftedTarball('outside', absolute))
  const out = join(parent, 'work', 'out')
  mkdirSync(join(parent, 'elsewhere'))
  mkdirSync(out, {recursive: true})
  // A symlink already in the out dir that leads out of it: members must not be written through it.
  symlinkSync(join(parent, 'elsewhere'), join(out, 'sneaky'))

  const {status, result} = extractJson(['--in-tarball', archive, '--out-dir', out])
  assert.equal(status, 3)
  assert.deepEqual(filesUnder(parent), ['crafted.tar', 'work/out/good-1.txt', 'work/out/good-2.txt', 'work/out/link-out/through.txt', 'work/out/sneaky'])
  assert.ok(lstatSync(join(out, 'link-out')).isDirectory(), 'link-out is a plain folder, not a link')
  assert.deepEqual(readdirSync(join(parent, 'elsewhere')), [])
  assert.equal(existsSync(absolute), false)
  assert.equal(readFileSync(join(out, 'good-2.txt'), 'utf8'), 'last', 'extraction goes on after unsafe members')

  const why = Object.fromEntries(result.skipped.map((s) => [s.path, `${s.code}: ${s.reason}`]))
  assert.deepEqual(Object.keys(why).sort(), [
    '../escape.txt', absolute, 'deep/../../escape2.txt', 'dev-null', 'disk', 'hard-out', 'link-abs', 'link-in', 'link-out', 'pipe',
    'sneaky/file.txt',
  ].sort())
  assert.match(why[absolute], /^absolute-path: absolute path/)
  assert.match(why['../escape.txt'], /^parent-folder: .*'\.\.'/)
  assert.match(why['deep/../../escape2.txt'], /^parent-folder/)
  assert.match(why['link-out'], /^symlink: symbolic link to \.\.\/outside, which is outside the out dir/)
  assert.match(why['link-abs'], /^symlink: .*\/etc\/passwd, which is outside/)
  assert.match(why['link-in'], /^symlink: symbolic link to good-1\.txt \(links are never created\)/)
  assert.match(why['hard-out'], /^hardlink: hard link to \.\.\/outside\.txt, which is outside the out dir/)
  assert.match(why['dev-null'], /^device: character-device/)
  assert.match(why.disk, /^device: block-device/)
  assert.match(why.pipe, /^fifo: FIFO/)
  assert.match(why['sneaky/file.txt'], /^unsafe-folder: folder sneaky leads to .*elsewhere, outside the out dir/)
})

test('a truncated tarball keeps completed members, removes the partial one and names it', {skip: !HAVE_SHARED}, (t) => {
  const dir = tempDir(t)
  const src = join(dir, 'src')
  mkdirSync(src)
  copyFileSync(join(SHARED, 'zeek__ssh.pcap'), join(src, 'first.pcap'))
  copyFileSync(join(SHARED, 'sv__decode-sll2-02.pcap'), join(src, 'big.pcap'))
  copyFileSync(join(SHARED, 'tcpreplay__test.pcap'), join(src, 'last.pcap'))
  const whole = join(dir, 'whole.tar')
  tool('tar', ['-cf', whole, '-C', src, 'first.pcap', 'big.pcap', 'last.pcap'])
  const blocks = (bytes: number): number => Math.ceil(bytes / 512) * 512
  const bigStart = 512 + blocks(statSync(join(src, 'first.pcap')).size) + 512
  const cut = readFileSync(whole).subarray(0, bigStart + statSync(join(src, 'big.pcap')).size / 2)

  for (const [name, bytes] of [['cut.tar', cut], ['cut.tar.gz', gzipSync(cut)]] as const) {
    const archive = join(dir, name)
    writeFileSync(archive, bytes)
    const out = join(dir, `out-${name}`)
    const r = extract(['--in-tarball', archive, '--out-dir', out])
    assert.equal(r.status, 1, name)
    assert.deepEqual(filesUnder(out), ['first.pcap'], `${name}: no partial or temp file`)
    assert.ok(readFileSync(join(out, 'first.pcap')).equals(readFileSync(join(src, 'first.pcap'))))
    assert.match(r.stderr, /error: tarball ends early in member big\.pcap/, name)
    const json = extractJson(['--in-tarball', archive, '--out-dir', join(dir, `json-${name}`)])
    assert.equal(json.status, 1)
    assert.equal(json.result.summary.failure?.member, 'big.pcap')
  }

  // Cut inside the gzip stream itself: gunzip fails somewhere; whatever is on disk must be whole, named by the error.
  const gz = gzipSync(readFileSync(whole))
  writeFileSync(join(dir, 'cut-gzip.tgz'), gz.subarray(0, Math.floor(gz.length * 0.7)))
  const outGz = join(dir, 'out-gz')
  const r = extract(['--in-tarball', join(dir, 'cut-gzip.tgz'), '--out-dir', outGz])
  assert.equal(r.status, 1)
  assert.match(r.stderr, /error: tarball ends early (in|after) member \S+\.pcap \(unexpected end of file\)/)
  for (const path of filesUnder(outGz)) assert.ok(readFileSync(join(outGz, path)).equals(readFileSync(join(src, path))), path)
})

test('--in-tarball - reads a gzipped tarball from stdin', {skip: !HAVE_SHARED}, (t) => {
  const {dir, src, archive} = pack(tempDir(t), 'set.tgz', true)
  const out = join(dir, 'out')
  const r = extract(['--in-tarball', '-', '--file-regexp', '^b/', '--out-dir', out], readFileSync(archive))
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(filesUnder(out), [LONG, 'b/notes.txt', 'b/sub/echo.pcap.gz', 'b/x.pcap'].sort())
  for (const path of filesUnder(out)) assert.ok(readFileSync(join(out, path)).equals(readFileSync(join(src, path))), path)
})

test('bad usage: invalid regexp, missing or empty tarball', (t) => {
  const dir = tempDir(t)
  const badRegexp = extract(['--in-tarball', join(dir, 'x.tar'), '--file-regexp', '(unclosed'])
  assert.equal(badRegexp.status, 2)
  assert.match(badRegexp.stderr, /--file-regexp: Invalid regular expression/)
  const missing = extract(['--in-tarball', join(dir, 'missing.tar')])
  assert.equal(missing.status, 2)
  assert.match(missing.stderr, /missing\.tar: no such file/)
  writeFileSync(join(dir, 'empty.tar'), '')
  const empty = extract(['--in-tarball', join(dir, 'empty.tar'), '--out-dir', join(dir, 'out')])
  assert.equal(empty.status, 1)
  assert.match(empty.stderr, /empty, not a tarball/)
  const junk = join(dir, 'junk.tar')
  writeFileSync(junk, Buffer.alloc(2048, 'not a tar archive at all '))
  const notTar = extract(['--in-tarball', junk, '--out-dir', join(dir, 'out')])
  assert.equal(notTar.status, 1)
  assert.match(notTar.stderr, /not a tar archive/)
  assert.deepEqual(filesUnder(dir), ['empty.tar', 'junk.tar'])
})
