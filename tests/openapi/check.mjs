// Checks api/openapi.json (the path is the first argument): the document
// against the OpenAPI 3.1 schema, then every schema in it (components,
// media types, parameters, headers, x-events) against JSON Schema 2020-12
// with Ajv in strict mode, since the OpenAPI schema leaves schema objects
// unchecked. Exits 1 on a problem.
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { readFileSync } from "node:fs";
import { argv, exit } from "node:process";

const text = readFileSync(argv[2], "utf8");
const result = await new Validator().validate(JSON.parse(text));
if (!result.valid) {
	console.log(JSON.stringify(result.errors, null, 2));
	exit(1);
}

const base = "https://fitd.invalid/openapi.json";
const doc = JSON.parse(text.replaceAll('"#/components/schemas/', '"' + base + "#/$defs/"));
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
addFormats(ajv);
ajv.addSchema({ $id: base, $defs: doc.components.schemas });

let n = 0;
function walk(node, inSchemas) {
	if (node === null || typeof node !== "object")
		return;
	for (const [key, value] of Object.entries(node)) {
		if (key === "schema" || inSchemas) {
			ajv.compile(value); // throws on a bad schema
			n++;
		}
		walk(value, key === "schemas" || key === "x-events");
	}
}
walk(doc, false);
console.log("openapi.json: valid OpenAPI " + doc.openapi + ", " + n + " schemas compile");
