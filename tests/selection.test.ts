import { buildSchema, executeSync, parse, type GraphQLResolveInfo } from "graphql";
import { describe, expect, it } from "vitest";
import { selects } from "../src/graphql/resolvers/selection.js";

describe("selections", () => {
  const schema = buildSchema(`type Query { list: Conn } type Conn { total: Int items: [Int] }`);
  const seen = (query: string) => {
    let result: boolean | undefined;
    const rootValue = { list: (_a: unknown, _c: unknown, info: GraphQLResolveInfo) => ((result = selects(info, "total")), {}) };
    executeSync({ schema, document: parse(query), rootValue });
    return result;
  };

  it("finds a field however it is selected", () => {
    expect(seen(`{ list { total } }`)).toBe(true);
    expect(seen(`{ list { n: total } }`)).toBe(true);
    expect(seen(`{ list { ... on Conn { total } } }`)).toBe(true);
    expect(seen(`{ list { ...F } } fragment F on Conn { items total }`)).toBe(true);
    expect(seen(`{ list { items } }`)).toBe(false);
    expect(seen(`{ list { ...F } } fragment F on Conn { items }`)).toBe(false);
  });
});
