// Check an email's HTML against caniemail.com's data, as packaged by @jsx-email/doiuse-email.
//   node tools/email_lint/lint.mjs [CLIENT_GLOB ...] < message.html
// CLIENT_GLOB is one of the package's email clients or a glob over them ("outlook.windows",
// "gmail.*", "*"); the default is outlook.windows. Prints one JSON object on stdout:
//   {"errors": [...], "warnings": [...], "notes": [...]}
// Exits 2 on bad usage (no HTML on stdin, an unknown client); tools/email_lint.py runs it.
import { DoIUseEmail, doIUseEmail } from "@jsx-email/doiuse-email";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const html = Buffer.concat(chunks).toString("utf8");
if (!html.trim()) {
  process.stderr.write("lint.mjs: no HTML on stdin\n");
  process.exit(2);
}
const emailClients = process.argv.length > 2 ? process.argv.slice(2) : ["outlook.windows"];
for (const glob of emailClients) {
  try {
    new DoIUseEmail({ emailClients: [glob] }); // throws when the glob names no client
  } catch {
    process.stderr.write(`lint.mjs: no email client matches ${JSON.stringify(glob)}\n`);
    process.exit(2);
  }
}
let result;
try {
  result = doIUseEmail(html, { emailClients });
} catch (error) {
  process.stderr.write(`lint.mjs: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}
process.stdout.write(
  `${JSON.stringify({
    errors: result.success ? [] : result.errors,
    warnings: result.warnings,
    notes: result.notes,
  })}\n`,
);
