// Shared page styles, injected by each page script so the HTML stays a bare shell.
export const css = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7fb; }
body { margin: 0; }
header { background: #1d2330; color: #fff; padding: 12px 20px; display: flex; gap: 16px; align-items: center; }
header h1 { font-size: 18px; margin: 0; }
header a { color: #c9d4ff; }
main { padding: 16px 20px; }
form.filters { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 12px; }
input, select, button { font: inherit; padding: 6px 10px; border: 1px solid #c8cdd9; border-radius: 6px; background: #fff; }
button { cursor: pointer; background: #3451d1; color: #fff; border-color: #3451d1; }
button.secondary { background: #fff; color: #3451d1; }
button.danger { background: #fff; color: #b3261e; border-color: #b3261e; }
button:disabled { opacity: .5; cursor: default; }
table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #eceef4; font-size: 14px; }
tr.row { cursor: pointer; } tr.row:hover { background: #f0f3ff; }
.status { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #e6f4ea; color: #1e6b34; }
.status.CLOSED { background: #eee; color: #555; } .status.EXPIRED { background: #fdecea; color: #8a1c12; }
.pager { display: flex; gap: 8px; align-items: center; margin: 10px 0; }
.detail { margin-top: 16px; background: #fff; border-radius: 8px; padding: 12px 16px; }
.channels { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.channel { border: 1px solid #eceef4; border-radius: 6px; padding: 8px; max-height: 320px; overflow: auto; font-family: ui-monospace, monospace; font-size: 12px; }
.chat { max-width: 720px; margin: 0 auto; display: flex; flex-direction: column; gap: 10px; }
.bubble { padding: 10px 14px; border-radius: 14px; max-width: 80%; white-space: pre-wrap; }
.bubble.user { align-self: flex-end; background: #3451d1; color: #fff; }
.bubble.assistant { align-self: flex-start; background: #fff; border: 1px solid #e0e4ee; }
.bubble.assistant.streaming::after { content: " ▍"; color: #8a94b0; }
form.composer { display: flex; gap: 8px; max-width: 720px; margin: 16px auto; }
form.composer input { flex: 1; }
.muted { color: #6b7489; font-size: 13px; }
.bubble.pending { color: #8a94b0; }
.notice { box-sizing: border-box; max-width: 720px; margin: 16px auto; padding: 10px 14px; border-radius: 8px; background: #eef0f6; color: #3b4254; }
.notice.error { background: #fdecea; color: #8a1c12; }
.channel .turn .reason { color: #6b7489; }
.channel .user { color: #3451d1; }
`;

export function mountStyles() {
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
}
