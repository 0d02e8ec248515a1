/**
 * Every ecosystem's package files: the fields and the layout its tools require, read back from
 * an export of stories260K (a field gone missing fails here), the build files listing exactly the
 * library's sources, and each example compiled against llama2_embed.h with stand-ins for the
 * SDK's headers (no SDK is installed here: doc/library.md says what was and was not tried).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportLibrary } from '../../src/library/export.js';
import { knownFormats } from '../../src/library/formats/index.js';
import { stories260K, tempDir } from '../helpers/fixtures.js';
import { needs, requireNeeds } from '../helpers/needs.js';

/** The library's C files as the exporter writes them. */
const LIBRARY_C = ['forward.c', 'forward_parallel.c', 'llama2_embed.c', 'parallel.c', 'tokenizer.c', 'tokenizer_image.c', 'weights.c'];

function read(dir: string, path: string): string {
  expect(existsSync(join(dir, path)), `${path} exists`).to.equal(true);
  return readFileSync(join(dir, path), 'utf8');
}

/** `key=value` lines (library.properties), comments skipped. */
function properties(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_.]+)=(.*)$/.exec(line);
    if (m) map.set(m[1], m[2]);
  }
  return map;
}

/** The C files a build file names, as `src/<file>.c` (or "src/<file>.c", ${...}/src/<file>.c). */
function listedSources(text: string): string[] {
  return [...text.matchAll(/src\/([a-z_0-9]+\.c)\b/g)].map((m) => m[1]).sort();
}

/** The sources the export wrote, so that a build file listing fewer (or more) than there are fails. */
function writtenSources(dir: string, srcDir: string): string[] {
  return readdirSync(join(dir, srcDir))
    .filter((f) => f.endsWith('.c'))
    .sort();
}

/** Compiles an example against the export's header, with stand-in SDK headers from `stubs`; C or C++. */
function compileExample(dir: string, includeDir: string, file: string, stubs: Record<string, string>, cxx = false): void {
  const stubDir = join(dir, '.stubs');
  for (const [name, text] of Object.entries(stubs)) {
    mkdirSync(join(stubDir, name, '..'), { recursive: true });
    writeFileSync(join(stubDir, name), text);
  }
  const args = cxx
    ? [
        '-std=c++17',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-fsyntax-only',
        '-I',
        stubDir,
        '-I',
        join(dir, includeDir),
        '-include',
        'Arduino.h',
        '-x',
        'c++',
        join(dir, file),
      ]
    : ['-std=c99', '-Wall', '-Wextra', '-Werror', '-fsyntax-only', '-I', stubDir, '-I', join(dir, includeDir), join(dir, file)];
  const r = spawnSync(cxx ? 'g++' : 'cc', args, { encoding: 'utf8' });
  expect(r.status, `${file}:\n${r.stderr}`).to.equal(0);
}

describe("export: each ecosystem's package files", function () {
  needs('stories260K.bin', 'tok512.bin', 'cc');
  this.timeout(300_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const exported = new Map<string, string>();
  const dirOf = (format: string): string => {
    if (!exported.has(format)) exported.set(format, exportLibrary({ format, ...stories260K, out: join(tmp.dir, format) }).outDir);
    return exported.get(format)!;
  };

  it('knows the six formats', () => {
    expect(knownFormats()).to.deep.equal(['c', 'pico-sdk', 'arduino', 'platformio', 'esp-idf', 'zephyr']);
  });

  it('c: include/llama2_embed.h, src/, a Makefile and a CMake static library listing every source, examples/generate/', () => {
    const dir = dirOf('c');
    read(dir, 'include/llama2_embed.h');
    expect(writtenSources(dir, 'src')).to.deep.equal(LIBRARY_C);
    const cmake = read(dir, 'CMakeLists.txt');
    expect(cmake).to.match(/add_library\(llama2_embed STATIC\b/);
    expect(cmake).to.match(/target_include_directories\(llama2_embed PUBLIC include/);
    expect(cmake).to.contain('-ffp-contract=off');
    expect(listedSources(cmake)).to.deep.equal(LIBRARY_C);
    const makefile = read(dir, 'Makefile');
    expect(makefile).to.match(/^libllama2_embed\.a:/m);
    expect(makefile).to.contain('-ffp-contract=off');
    expect(listedSources(makefile.replace(/\.o\b/g, '.c'))).to.deep.equal(LIBRARY_C);
    read(dir, 'examples/generate/main.c');
  });

  it('c: its CMakeLists.txt configures and builds the library and the example', function () {
    const dir = dirOf('c');
    const build = join(tmp.dir, 'c-cmake');
    requireNeeds(this, 'cmake');
    const configure = spawnSync('cmake', ['-S', dir, '-B', build], { encoding: 'utf8' });
    expect(configure.status, configure.stderr).to.equal(0);
    const made = spawnSync('cmake', ['--build', build], { encoding: 'utf8' });
    expect(made.status, made.stderr + made.stdout).to.equal(0);
    expect(existsSync(join(build, 'libllama2_embed.a'))).to.equal(true);
    expect(existsSync(join(build, 'generate'))).to.equal(true);
  });

  it('pico-sdk: a CMake INTERFACE library linked to pico_stdlib, Q8_0 and integer arithmetic by default, an example on stdio', () => {
    const dir = dirOf('pico-sdk');
    const cmake = read(dir, 'CMakeLists.txt');
    expect(cmake).to.match(/add_library\(llama2_embed INTERFACE\)/);
    expect(cmake).to.match(/target_link_libraries\(llama2_embed INTERFACE pico_stdlib\)/);
    expect(cmake).to.match(/target_include_directories\(llama2_embed INTERFACE \$\{CMAKE_CURRENT_LIST_DIR\}\/include\)/);
    expect(listedSources(cmake)).to.deep.equal(writtenSources(dir, 'src'));
    expect(writtenSources(dir, 'src')).to.deep.equal(LIBRARY_C);
    expect(JSON.parse(read(dir, 'export-info.json')).plan).to.include({ weights: 'q8_0', arithmetic: 'integer' });
    const example = read(dir, 'examples/generate/CMakeLists.txt');
    for (const call of [
      'pico_sdk_init()',
      'add_subdirectory(../..',
      'target_link_libraries(generate llama2_embed pico_stdlib)',
      'pico_add_extra_outputs(generate)',
    ])
      expect(example).to.contain(call);
    compileExample(dir, 'include', 'examples/generate/main.c', {
      'pico/stdlib.h': 'void stdio_init_all(void);\nvoid sleep_ms(unsigned ms);\nstatic inline void tight_loop_contents(void) {}\n',
    });
  });

  it('arduino: library.properties with every required field, src/ with the header, examples/Generate/Generate.ino', () => {
    const dir = dirOf('arduino');
    const fields = properties(read(dir, 'library.properties'));
    for (const field of ['name', 'version', 'author', 'maintainer', 'sentence', 'paragraph', 'category', 'url', 'architectures']) {
      expect(fields.get(field), `library.properties: ${field}`).to.be.a('string').and.not.equal('');
    }
    expect(fields.get('name')).to.match(/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/);
    expect(fields.get('version')).to.match(/^\d+\.\d+\.\d+$/);
    expect([
      'Display',
      'Communication',
      'Signal Input/Output',
      'Sensors',
      'Device Control',
      'Timing',
      'Data Storage',
      'Data Processing',
      'Other',
    ]).to.include(fields.get('category'));
    expect(fields.get('includes')).to.equal('llama2_embed.h');
    read(dir, 'src/llama2_embed.h');
    expect(writtenSources(dir, 'src')).to.deep.equal(LIBRARY_C);
    expect(existsSync(join(dir, 'include'))).to.equal(false);
    compileExample(
      dir,
      'src',
      'examples/Generate/Generate.ino',
      {
        'Arduino.h':
          'struct SerialStub { void begin(long) {} operator bool() const { return true; } void print(const char *) {} void println(const char * = "") {} };\nstatic SerialStub Serial;\n',
      },
      true,
    );
  });

  it('platformio: library.json with name, version, frameworks, platforms and the build flags, examples/', () => {
    const dir = dirOf('platformio');
    const json = JSON.parse(read(dir, 'library.json')) as {
      version: string;
      build: { flags: string; includeDir: string; srcDir: string };
      examples: { base: string; files: string[] }[];
    };
    for (const field of ['name', 'version', 'description', 'frameworks', 'platforms', 'build'])
      expect(json, `library.json: ${field}`).to.have.property(field);
    expect(json.version).to.match(/^\d+\.\d+\.\d+$/);
    expect(json.build.flags).to.include('-ffp-contract=off');
    read(dir, join(json.build.includeDir, 'llama2_embed.h'));
    expect(writtenSources(dir, json.build.srcDir)).to.deep.equal(LIBRARY_C);
    for (const example of json.examples) for (const file of example.files) read(dir, join(example.base, file));
    compileExample(dir, 'include', 'examples/generate/main.c', {});
  });

  it('esp-idf: a component registered with idf_component_register, idf_component.yml, Kconfig, an example project', () => {
    const dir = dirOf('esp-idf');
    const cmake = read(dir, 'CMakeLists.txt');
    expect(cmake).to.match(/idf_component_register\(\s*SRCS /);
    expect(cmake).to.match(/INCLUDE_DIRS "include"/);
    expect(cmake).to.contain('CONFIG_LLAMA2_EMBED_CHECK_WEIGHTS');
    expect(listedSources(cmake)).to.deep.equal(LIBRARY_C);
    const manifest = read(dir, 'idf_component.yml');
    expect(manifest).to.match(/^version: "\d+\.\d+\.\d+"$/m);
    expect(manifest).to.match(/^description: ".+"$/m);
    expect(manifest).to.match(/^dependencies:\n {2}idf: ">=[\d.]+"$/m);
    const kconfig = read(dir, 'Kconfig');
    expect(kconfig).to.match(/^menu "llama2-embed"$/m);
    expect(kconfig).to.match(/^config LLAMA2_EMBED_CHECK_WEIGHTS$/m);
    expect(kconfig).to.match(/^endmenu$/m);
    expect(read(dir, 'examples/generate/CMakeLists.txt')).to.contain('project.cmake');
    expect(read(dir, 'examples/generate/main/CMakeLists.txt')).to.contain('PRIV_REQUIRES llama2_embed');
    expect(read(dir, 'examples/generate/main/idf_component.yml')).to.match(/llama2_embed:\n {4}path: \.\.\/\.\.\/\.\./);
    compileExample(dir, 'include', 'examples/generate/main/main.c', {});
  });

  it('zephyr: zephyr/module.yml, a CMakeLists.txt built on CONFIG_LLAMA2_EMBED, Kconfig, samples/generate', () => {
    const dir = dirOf('zephyr');
    const module = read(dir, 'zephyr/module.yml');
    expect(module).to.match(/^name: llama2_embed$/m);
    expect(module).to.match(/^build:\n {2}cmake: \.\n {2}kconfig: Kconfig$/m);
    const cmake = read(dir, 'CMakeLists.txt');
    expect(cmake).to.match(/if\(CONFIG_LLAMA2_EMBED\)/);
    expect(cmake).to.match(/zephyr_library_named\(llama2_embed\)/);
    expect(cmake).to.match(/zephyr_include_directories\(include\)/);
    expect(listedSources(cmake)).to.deep.equal(LIBRARY_C);
    const kconfig = read(dir, 'Kconfig');
    expect(kconfig).to.match(/^config LLAMA2_EMBED$/m);
    expect(kconfig).to.match(/^config LLAMA2_EMBED_CHECK_WEIGHTS$/m);
    expect(read(dir, 'samples/generate/prj.conf')).to.match(/^CONFIG_LLAMA2_EMBED=y$/m);
    expect(read(dir, 'samples/generate/CMakeLists.txt')).to.match(/find_package\(Zephyr REQUIRED/);
    expect(read(dir, 'samples/generate/sample.yaml')).to.match(/^sample:\n {2}name: /m);
    compileExample(dir, 'include', 'samples/generate/src/main.c', {});
  });
});
