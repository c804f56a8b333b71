/**
 * Field descriptions from the TSDoc comments in src/api/*.ts: every object
 * literal given to `z.object`, `z.strictObject`, `z.looseObject` or
 * `.extend` is read with the TypeScript compiler, and each property's
 * leading `/** ... *\/` comment is kept with the literal's set of keys, so a
 * JSON schema object can find the literal it came from (the one sharing
 * most of its keys).
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';

/** One object literal of a schema: its keys and the comments on them. */
export interface CommentedLiteral {
  keys: Set<string>;
  comments: Map<string, string>;
}

const OBJECT_CALLS = new Set(['object', 'strictObject', 'looseObject', 'extend']);

function propertyName(name: ts.PropertyName): string | undefined {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  return undefined;
}

/** The text of the JSDoc block right before `node`, tags dropped, lines joined. */
export function leadingDoc(node: ts.Node, source: ts.SourceFile): string | undefined {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  const docs = ranges.map((r) => source.text.slice(r.pos, r.end)).filter((t) => t.startsWith('/**'));
  const last = docs[docs.length - 1];
  if (last === undefined) return undefined;
  const text = last
    .replace(/^\/\*\*|\*\/$/g, '')
    .split('\n')
    .map((l) => l.replace(/^\s*\*\s?/, '').trim())
    .filter((l) => !l.startsWith('@'))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text || undefined;
}

/** The leftmost identifier of `a.b().c()` chains (`cpuSpec` of `cpuSpec.optional()`), unless it is `z`. */
function rootIdentifier(expr: ts.Expression): string | undefined {
  let e: ts.Expression = expr;
  for (;;) {
    // Method calls only (`x.optional()`): a call of a function (`quantityAtLeast(...)`) is not the schema it documents.
    if (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression)) e = e.expression.expression;
    else if (ts.isPropertyAccessExpression(e)) e = e.expression;
    else break;
  }
  return ts.isIdentifier(e) && e.text !== 'z' ? e.text : undefined;
}

/**
 * Reads the commented object literals of the given TypeScript files. A
 * property without a comment of its own whose value is a named schema
 * (`cpu: cpuSpec`) gets the comment on that schema's declaration.
 */
export function readCommentedLiterals(files: string[]): CommentedLiteral[] {
  const out: CommentedLiteral[] = [];
  const sources = files.map((file) => ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true));
  const declDocs = new Map<string, string>();
  for (const source of sources) {
    for (const stmt of source.statements) {
      if (!ts.isVariableStatement(stmt)) continue;
      const doc = leadingDoc(stmt, source);
      for (const d of stmt.declarationList.declarations) if (doc !== undefined && ts.isIdentifier(d.name)) declDocs.set(d.name.text, doc);
    }
  }
  const pending: { lit: CommentedLiteral; name: string; ref: string }[] = [];
  for (const source of sources) {
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && OBJECT_CALLS.has(node.expression.name.text)) {
        const arg = node.arguments[0];
        if (arg && ts.isObjectLiteralExpression(arg)) {
          const lit: CommentedLiteral = { keys: new Set(), comments: new Map() };
          for (const p of arg.properties) {
            if (!ts.isPropertyAssignment(p) && !ts.isShorthandPropertyAssignment(p)) continue;
            const name = propertyName(p.name);
            if (name === undefined) continue;
            lit.keys.add(name);
            const doc = leadingDoc(p, source);
            if (doc !== undefined) lit.comments.set(name, doc);
            else if (ts.isPropertyAssignment(p)) {
              const ref = rootIdentifier(p.initializer);
              if (ref !== undefined) pending.push({ lit, name, ref });
            } else pending.push({ lit, name, ref: name });
          }
          out.push(lit);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  for (const { lit, name, ref } of pending) {
    const doc = declDocs.get(ref);
    if (doc !== undefined) lit.comments.set(name, doc);
  }
  return out;
}

/**
 * The comment on `prop` of the literal most like the object it is in (the
 * largest share of keys in common, at least half), if that literal has one.
 * An unrelated literal that merely has a property of the same name never
 * lends its comment.
 */
export function findComment(literals: CommentedLiteral[], prop: string, siblings: string[]): string | undefined {
  let best: { score: number; text: string } | undefined;
  for (const lit of literals) {
    const text = lit.comments.get(prop);
    if (text === undefined) continue;
    const common = siblings.filter((s) => lit.keys.has(s)).length;
    const score = common / (lit.keys.size + siblings.length - common);
    if (score >= 0.5 && (!best || score > best.score)) best = { score, text };
  }
  return best?.text;
}
