/** The index directory that goes with a metadata JSON: dataset.json → dataset.index. */
export function defaultIndexDir(dumpJson: string): string {
  return dumpJson.replace(/\.json$/i, '') + '.index'
}
