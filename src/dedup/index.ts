export {
  DedupTable,
  InsertResult,
  INSERT_NEW,
  INSERT_DUPLICATE,
  INSERT_OVERFLOW,
  type InsertResultCode,
  type DedupTableOptions,
  type DedupAttachOptions,
  type DedupStats,
} from './table.js';
export { DedupStalledError } from './errors.js';
export { bucketIndex, BUCKET_SLOTS } from './layout.js';
