import { limits as table } from "../limits.js";

/** The sessions domain's figures, from the one limits table (src/limits.ts). */
export const limits = {
  typeLength: table.typeLength,
  externalIdLength: table.externalIdLength,
  taskIdentifierLength: table.taskIdentifierLength,
  tagsPerSession: table.tagsPerSession,
  tagLength: table.tagLength,
  metadataBytes: table.metadataBytes,
  closedReasonLength: table.closedReasonLength,
  maxTtlMs: table.maxTtlMs,
  pageSizeMax: table.pageSizeMax,
  pageSizeDefault: table.pageSizeDefault,
  tagPageMax: table.tagPageMax,
  filterListLength: table.filterListLength,
} as const;
