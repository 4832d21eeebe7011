import { builder } from "./builder.js";
import "./scalars.js";
import "./channel.js";
import "./session.js";
import "./waitpoint.js";
import "./token.js";

export const schema = builder.toSchema({ sortSchema: false });
