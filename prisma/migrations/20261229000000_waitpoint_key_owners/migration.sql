-- A waitpoint's idempotency key is stored with its owner's prefix, "secret:" (an agent with a secret
-- key) or "token:" (a page with a public token): the two never meet, so a page cannot take the key
-- an agent is about to use (src/waitpoints/waitpoint-service.ts). Keys made before were agents'.
UPDATE "waitpoints" SET "idempotency_key" = 'secret:' || "idempotency_key" WHERE "idempotency_key" IS NOT NULL;
