/**
 * The published typings as a strict TypeScript service sees them (NodeNext,
 * strict, exactOptionalPropertyTypes), compiled with the TypeScript compiler
 * against dist/src/index.d.ts: enumerations are literal unions, options take
 * an explicit undefined, and every type an export's signature names is
 * exported itself.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'index.d.ts');

const strict: ts.CompilerOptions = {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  exactOptionalPropertyTypes: true,
  noEmit: true,
  types: ['node'],
  typeRoots: [join(root, 'node_modules', '@types')],
};

function diagnostics(source: string): string[] {
  const dir = workdir('ordertail-types-');
  const file = join(dir, 'service.mts');
  const spec = relative(dir, entry).replace(/\.d\.ts$/, '.js');
  writeFileSync(file, source.replaceAll("'ordertail'", `'${spec.startsWith('.') ? spec : `./${spec}`}'`));
  const program = ts.createProgram([file], strict);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file)
    .map((d) => `${d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 : '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('typings for a strict NodeNext service', () => {
  it('options take an explicit undefined (exactOptionalPropertyTypes); enumerations are literal unions', () => {
    // Each @ts-expect-error must be needed: with plain strings it is reported as unused.
    const errors = diagnostics(`
import { Engine, EngineError, type EngineOptions, type EngineStats, type RejectedRecord, type WarningCode } from 'ordertail';
const fromConfig = (v: string | undefined): string | undefined => v;
const options: EngineOptions = { input: 'a.ndjson', once: undefined, workers: undefined, logLevel: undefined, sink: undefined, checkpoint: fromConfig(process.env.CP), signal: undefined };
const engine = new Engine(options);
void engine.records({ signal: undefined, maxRecords: undefined, maxBytes: undefined });
// @ts-expect-error not a log level
const a: EngineOptions = { input: 'x', logLevel: 'verbose' };
// @ts-expect-error not a sink
const b: EngineOptions = { input: 'x', sink: 'kafka' };
const c: EngineOptions = { input: 'x', sink: 'file:out.ndjson' };
// @ts-expect-error not a parser
const d: EngineStats['parser'] = 'rapidjson';
// @ts-expect-error not a reject reason
const e: RejectedRecord['reason'] = 'bad';
// @ts-expect-error not an error code
const f: EngineError['code'] = 'ORDERTAIL_NOPE';
// @ts-expect-error not a warning code
const g: WarningCode = 'ORDERTAIL_NOPE';
engine.on('warning', (message: string, code: WarningCode) => void [message, code]);
// @ts-expect-error not a reason key
engine.stats().rejectedByReason.bad;
void [a, b, c, d, e, f, g];
`);
    expect(errors).toEqual([]);
  });

  it('every type named in the signature of an export is exported', () => {
    const program = ts.createProgram([entry], strict);
    const checker = program.getTypeChecker();
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
    const exported = new Set<ts.Symbol>();
    for (const s of checker.getExportsOfModule(moduleSymbol)) {
      exported.add(s);
      if (s.flags & ts.SymbolFlags.Alias) exported.add(checker.getAliasedSymbol(s));
    }
    const ours = (d: ts.Declaration): boolean => d.getSourceFile().fileName.startsWith(join(root, 'dist'));
    const missing = new Set<string>();
    const visited = new Set<ts.Symbol>();
    const visitDeclaration = (decl: ts.Node): void => {
      const walk = (node: ts.Node): void => {
        // Private and protected members are not part of the API.
        if (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) return;
        if (ts.isPrivateIdentifier((node as { name?: ts.Node }).name ?? node)) return;
        if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node) || ts.isImportTypeNode(node)) {
          const name = ts.isTypeReferenceNode(node) ? node.typeName : ts.isExpressionWithTypeArguments(node) ? node.expression : node.qualifier;
          let symbol = name && checker.getSymbolAtLocation(name);
          if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
          const declarations = symbol?.declarations ?? [];
          if (symbol && declarations.length > 0 && declarations.every(ours) && !(symbol.flags & ts.SymbolFlags.TypeParameter)) {
            if (!exported.has(symbol)) missing.add(`${symbol.name} (${relative(root, declarations[0]!.getSourceFile().fileName)})`);
            if (!visited.has(symbol)) {
              visited.add(symbol);
              for (const d of declarations) visitDeclaration(d);
            }
          }
        }
        ts.forEachChild(node, walk);
      };
      ts.forEachChild(decl, walk);
    };
    for (const s of exported) {
      if (visited.has(s)) continue;
      visited.add(s);
      for (const d of s.declarations ?? []) if (ours(d)) visitDeclaration(d);
    }
    expect([...missing].sort()).toEqual([]);
  });
});
