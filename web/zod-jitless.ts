import { config } from "zod";

// Zod 4 (through the AI SDK) probes `new Function("")` to decide whether it may compile parsers;
// under the page's Content-Security-Policy (no 'unsafe-eval') the probe is refused and reported as
// a violation even though zod catches it. jitless skips the probe: parsing works the same, uncompiled.
config({ jitless: true });
