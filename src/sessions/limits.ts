/** Documented in the README; change both together. */
export const limits = {
  typeLength: 128,
  externalIdLength: 256,
  taskIdentifierLength: 128,
  tagsPerSession: 20,
  tagLength: 128,
  metadataBytes: 64 * 1024,
  closedReasonLength: 1024,
  maxTtlMs: 365 * 86_400_000,
  pageSizeMax: 100,
  pageSizeDefault: 25,
  tagPageMax: 1000,
} as const;
