import { pageFixture } from "./helpers/browser.js";
import { describe, expect, it } from "vitest";

/** The dashboard's side of the data lifecycle (issue #15), in headless Chromium against the real service. */
describe("dashboard: trimmed channels and deleting a session", () => {
  const fixture = pageFixture();

  it("shows where a trimmed channel starts, says records were trimmed, and deletes a session after asking", async () => {
    await fixture.gql(`mutation { createSession(input: { type: "chat", externalId: "trimmed-ticket" }) { isCached } }`);
    await fixture.gql(`mutation { createSession(input: { type: "chat", externalId: "other-ticket" }) { isCached } }`);
    await fixture.gql(`mutation { appendToSession(id: "trimmed-ticket", io: OUT, records: [{ data: "r0" }, { data: "r1" }, { data: "r2" }, { data: "r3" }]) { lastSeqNum } }`);
    await fixture.gql(`mutation { trimSessionChannel(id: "trimmed-ticket", io: OUT, beforeSeqNum: 2) { headSeqNum } }`);

    const p = await fixture.browser.newPage({ viewport: { width: 1200, height: 800 } });
    await p.goto(`${fixture.server.url}/#token=${fixture.key}`);
    await p.getByTestId("session-row").filter({ hasText: "trimmed-ticket" }).click();
    await expect.poll(() => p.getByTestId("extent-OUT").textContent()).toContain("from #2, next #4");
    const out = p.getByTestId("channel-OUT");
    await out.getByTestId("trimmed").waitFor();
    expect(await out.getByTestId("trimmed").textContent()).toBe("— records before #2 were trimmed —");
    await expect.poll(() => out.getByTestId("record").allTextContents()).toEqual(['#2 "r2"', '#3 "r3"']);

    // Declined: nothing happens. Accepted: the session is gone from the list and the API.
    p.once("dialog", (dialog) => void dialog.dismiss());
    await p.getByTestId("delete").click();
    expect((await fixture.gql(`{ session(id: "trimmed-ticket") { id } }`)).data!.session).not.toBeNull();
    p.once("dialog", (dialog) => void dialog.accept());
    await p.getByTestId("delete").click();
    await p.getByTestId("deleted").waitFor();
    await expect.poll(() => p.getByTestId("session-row").allTextContents()).toEqual([expect.stringContaining("other-ticket")]);
    expect((await fixture.gql(`{ session(id: "trimmed-ticket") { id } }`)).data!.session).toBeNull();
    await p.close();
  }, 60_000);
});
