export {
  DedupTable,
  InsertResult,
  INSERT_NEW,
  INSERT_DUPLICATE,
  type InsertResultCode,
  type DedupTableOptions,
  type DedupAttachOptions,
  type DedupStats,
} from './table.js';
export { DedupStalledError } from './errors.js';
export { bucketIndex, BUCKET_SLOTS } from './layout.js';
