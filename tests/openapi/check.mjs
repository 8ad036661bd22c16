// Checks api/openapi.json (the path is the first argument): the document
// against the OpenAPI 3.1 schema, then every schema under
// components/schemas against JSON Schema 2020-12 with Ajv in strict mode
// (the OpenAPI schema leaves schema objects unchecked). Exits 1 on a problem.
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

const doc = JSON.parse(text.replaceAll("#/components/schemas/", "#/$defs/"));
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
addFormats(ajv);
ajv.addSchema({ $id: "https://fitd.invalid/openapi.json", $defs: doc.components.schemas });
for (const name of Object.keys(doc.components.schemas))
	ajv.getSchema("https://fitd.invalid/openapi.json#/$defs/" + name); // compiles; throws on a bad schema
console.log("openapi.json: valid OpenAPI " + doc.openapi + ", "
	+ Object.keys(doc.components.schemas).length + " schemas compile");
