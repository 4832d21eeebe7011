import { Prisma } from "../generated/prisma/client.js";

/** A unique index refused the write: how concurrent idempotent creates find out who won. */
export const isUniqueViolation = (e: unknown) => e instanceof Prisma.PrismaClientKnownRequestError && e.code === "P2002";
