/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation AppendToSession($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!, $matchSeqNum: SeqNum, $idempotencyKey: String) {\n  appendToSession(\n    id: $id\n    io: $io\n    records: $records\n    matchSeqNum: $matchSeqNum\n    idempotencyKey: $idempotencyKey\n  ) {\n    firstSeqNum\n    lastSeqNum\n    tailSeqNum\n    deduplicated\n  }\n}\n\nquery ReadRecords($id: ID!, $fromSeqNum: SeqNum, $limit: Int) {\n  session(id: $id) {\n    out {\n      tailSeqNum\n      records(fromSeqNum: $fromSeqNum, limit: $limit) {\n        seqNum\n        timestamp\n        data\n      }\n    }\n  }\n}\n\nsubscription SessionRecords($id: ID!, $io: SessionIO!, $fromSeqNum: SeqNum) {\n  sessionRecords(id: $id, io: $io, fromSeqNum: $fromSeqNum) {\n    seqNum\n    timestamp\n    data\n  }\n}": typeof types.AppendToSessionDocument,
    "fragment SessionSummary on Session {\n  id\n  externalId\n  type\n  taskIdentifier\n  tags\n  status\n  createdAt\n  closedAt\n}\n\nquery ListSessions($filter: SessionFilter, $first: Int, $after: String, $last: Int, $before: String) {\n  sessions(\n    filter: $filter\n    first: $first\n    after: $after\n    last: $last\n    before: $before\n  ) {\n    totalCount\n    edges {\n      cursor\n      node {\n        ...SessionSummary\n      }\n    }\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n  }\n}\n\nquery GetSession($id: ID!) {\n  session(id: $id) {\n    ...SessionSummary\n    metadata\n    out {\n      tailSeqNum\n    }\n    in {\n      tailSeqNum\n    }\n  }\n}\n\nmutation CreateSession($input: CreateSessionInput!) {\n  createSession(input: $input) {\n    isCached\n    session {\n      ...SessionSummary\n    }\n  }\n}\n\nmutation CloseSession($id: ID!, $reason: String) {\n  closeSession(id: $id, reason: $reason) {\n    ...SessionSummary\n  }\n}": typeof types.SessionSummaryFragmentDoc,
    "mutation CreateWaitpoint($input: CreateWaitpointInput!) {\n  createSessionWaitpoint(input: $input) {\n    isCached\n    waitpoint {\n      id\n      status\n      afterSeqNum\n      timeoutAt\n      record {\n        seqNum\n        data\n      }\n    }\n  }\n}\n\nsubscription WaitpointChanged($id: ID!) {\n  waitpointChanged(id: $id) {\n    id\n    status\n    record {\n      seqNum\n      timestamp\n      data\n    }\n  }\n}": typeof types.CreateWaitpointDocument,
};
const documents: Documents = {
    "mutation AppendToSession($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!, $matchSeqNum: SeqNum, $idempotencyKey: String) {\n  appendToSession(\n    id: $id\n    io: $io\n    records: $records\n    matchSeqNum: $matchSeqNum\n    idempotencyKey: $idempotencyKey\n  ) {\n    firstSeqNum\n    lastSeqNum\n    tailSeqNum\n    deduplicated\n  }\n}\n\nquery ReadRecords($id: ID!, $fromSeqNum: SeqNum, $limit: Int) {\n  session(id: $id) {\n    out {\n      tailSeqNum\n      records(fromSeqNum: $fromSeqNum, limit: $limit) {\n        seqNum\n        timestamp\n        data\n      }\n    }\n  }\n}\n\nsubscription SessionRecords($id: ID!, $io: SessionIO!, $fromSeqNum: SeqNum) {\n  sessionRecords(id: $id, io: $io, fromSeqNum: $fromSeqNum) {\n    seqNum\n    timestamp\n    data\n  }\n}": types.AppendToSessionDocument,
    "fragment SessionSummary on Session {\n  id\n  externalId\n  type\n  taskIdentifier\n  tags\n  status\n  createdAt\n  closedAt\n}\n\nquery ListSessions($filter: SessionFilter, $first: Int, $after: String, $last: Int, $before: String) {\n  sessions(\n    filter: $filter\n    first: $first\n    after: $after\n    last: $last\n    before: $before\n  ) {\n    totalCount\n    edges {\n      cursor\n      node {\n        ...SessionSummary\n      }\n    }\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n  }\n}\n\nquery GetSession($id: ID!) {\n  session(id: $id) {\n    ...SessionSummary\n    metadata\n    out {\n      tailSeqNum\n    }\n    in {\n      tailSeqNum\n    }\n  }\n}\n\nmutation CreateSession($input: CreateSessionInput!) {\n  createSession(input: $input) {\n    isCached\n    session {\n      ...SessionSummary\n    }\n  }\n}\n\nmutation CloseSession($id: ID!, $reason: String) {\n  closeSession(id: $id, reason: $reason) {\n    ...SessionSummary\n  }\n}": types.SessionSummaryFragmentDoc,
    "mutation CreateWaitpoint($input: CreateWaitpointInput!) {\n  createSessionWaitpoint(input: $input) {\n    isCached\n    waitpoint {\n      id\n      status\n      afterSeqNum\n      timeoutAt\n      record {\n        seqNum\n        data\n      }\n    }\n  }\n}\n\nsubscription WaitpointChanged($id: ID!) {\n  waitpointChanged(id: $id) {\n    id\n    status\n    record {\n      seqNum\n      timestamp\n      data\n    }\n  }\n}": types.CreateWaitpointDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AppendToSession($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!, $matchSeqNum: SeqNum, $idempotencyKey: String) {\n  appendToSession(\n    id: $id\n    io: $io\n    records: $records\n    matchSeqNum: $matchSeqNum\n    idempotencyKey: $idempotencyKey\n  ) {\n    firstSeqNum\n    lastSeqNum\n    tailSeqNum\n    deduplicated\n  }\n}\n\nquery ReadRecords($id: ID!, $fromSeqNum: SeqNum, $limit: Int) {\n  session(id: $id) {\n    out {\n      tailSeqNum\n      records(fromSeqNum: $fromSeqNum, limit: $limit) {\n        seqNum\n        timestamp\n        data\n      }\n    }\n  }\n}\n\nsubscription SessionRecords($id: ID!, $io: SessionIO!, $fromSeqNum: SeqNum) {\n  sessionRecords(id: $id, io: $io, fromSeqNum: $fromSeqNum) {\n    seqNum\n    timestamp\n    data\n  }\n}"): (typeof documents)["mutation AppendToSession($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!, $matchSeqNum: SeqNum, $idempotencyKey: String) {\n  appendToSession(\n    id: $id\n    io: $io\n    records: $records\n    matchSeqNum: $matchSeqNum\n    idempotencyKey: $idempotencyKey\n  ) {\n    firstSeqNum\n    lastSeqNum\n    tailSeqNum\n    deduplicated\n  }\n}\n\nquery ReadRecords($id: ID!, $fromSeqNum: SeqNum, $limit: Int) {\n  session(id: $id) {\n    out {\n      tailSeqNum\n      records(fromSeqNum: $fromSeqNum, limit: $limit) {\n        seqNum\n        timestamp\n        data\n      }\n    }\n  }\n}\n\nsubscription SessionRecords($id: ID!, $io: SessionIO!, $fromSeqNum: SeqNum) {\n  sessionRecords(id: $id, io: $io, fromSeqNum: $fromSeqNum) {\n    seqNum\n    timestamp\n    data\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment SessionSummary on Session {\n  id\n  externalId\n  type\n  taskIdentifier\n  tags\n  status\n  createdAt\n  closedAt\n}\n\nquery ListSessions($filter: SessionFilter, $first: Int, $after: String, $last: Int, $before: String) {\n  sessions(\n    filter: $filter\n    first: $first\n    after: $after\n    last: $last\n    before: $before\n  ) {\n    totalCount\n    edges {\n      cursor\n      node {\n        ...SessionSummary\n      }\n    }\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n  }\n}\n\nquery GetSession($id: ID!) {\n  session(id: $id) {\n    ...SessionSummary\n    metadata\n    out {\n      tailSeqNum\n    }\n    in {\n      tailSeqNum\n    }\n  }\n}\n\nmutation CreateSession($input: CreateSessionInput!) {\n  createSession(input: $input) {\n    isCached\n    session {\n      ...SessionSummary\n    }\n  }\n}\n\nmutation CloseSession($id: ID!, $reason: String) {\n  closeSession(id: $id, reason: $reason) {\n    ...SessionSummary\n  }\n}"): (typeof documents)["fragment SessionSummary on Session {\n  id\n  externalId\n  type\n  taskIdentifier\n  tags\n  status\n  createdAt\n  closedAt\n}\n\nquery ListSessions($filter: SessionFilter, $first: Int, $after: String, $last: Int, $before: String) {\n  sessions(\n    filter: $filter\n    first: $first\n    after: $after\n    last: $last\n    before: $before\n  ) {\n    totalCount\n    edges {\n      cursor\n      node {\n        ...SessionSummary\n      }\n    }\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n  }\n}\n\nquery GetSession($id: ID!) {\n  session(id: $id) {\n    ...SessionSummary\n    metadata\n    out {\n      tailSeqNum\n    }\n    in {\n      tailSeqNum\n    }\n  }\n}\n\nmutation CreateSession($input: CreateSessionInput!) {\n  createSession(input: $input) {\n    isCached\n    session {\n      ...SessionSummary\n    }\n  }\n}\n\nmutation CloseSession($id: ID!, $reason: String) {\n  closeSession(id: $id, reason: $reason) {\n    ...SessionSummary\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateWaitpoint($input: CreateWaitpointInput!) {\n  createSessionWaitpoint(input: $input) {\n    isCached\n    waitpoint {\n      id\n      status\n      afterSeqNum\n      timeoutAt\n      record {\n        seqNum\n        data\n      }\n    }\n  }\n}\n\nsubscription WaitpointChanged($id: ID!) {\n  waitpointChanged(id: $id) {\n    id\n    status\n    record {\n      seqNum\n      timestamp\n      data\n    }\n  }\n}"): (typeof documents)["mutation CreateWaitpoint($input: CreateWaitpointInput!) {\n  createSessionWaitpoint(input: $input) {\n    isCached\n    waitpoint {\n      id\n      status\n      afterSeqNum\n      timeoutAt\n      record {\n        seqNum\n        data\n      }\n    }\n  }\n}\n\nsubscription WaitpointChanged($id: ID!) {\n  waitpointChanged(id: $id) {\n    id\n    status\n    record {\n      seqNum\n      timestamp\n      data\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;