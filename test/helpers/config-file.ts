import { renameSync, writeFileSync } from 'node:fs';

/** JSON is YAML: the config file, replaced atomically as an editor saves it (write a temp file, rename it over), or `inPlace`. */
export function saveConfig(path: string, config: Record<string, unknown>, inPlace = false): void {
  const text = JSON.stringify(config, null, 2) + '\n';
  if (inPlace) return writeFileSync(path, text);
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}
