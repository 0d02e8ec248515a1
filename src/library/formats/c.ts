/** `export --format c`: a plain C library, with a Makefile and a CMake static library target. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../util/project-root.js';
import { EXACT_FLOAT_FLAGS, hashComment, type LibraryFormat, type PackageInfo } from './format.js';

/** The host example, shared by the formats whose example runs on a computer. */
export function hostExample(): string {
  return readFileSync(join(projectRoot(), 'templates', 'library', 'examples', 'generate.c'), 'utf8');
}

function makefile(info: PackageInfo): string {
  const objects = info.sources.map((s) => `src/${s.replace(/\.c$/, '.o')}`).join(' ');
  const cross = info.core.cc !== undefined && info.core.flags.length > 0;
  // a cross core: its compiler and flags, and the library only (the example needs an operating system's stdio and argv)
  const compiler = cross
    ? `# exported for ${info.core.name}: its compiler and flags
CC = ${info.core.cc}
AR = ${info.core.cc!.replace(/gcc$/, 'ar')}
CORE_FLAGS = ${info.core.flags.join(' ')}${
        info.core.libcFlags
          ? `\n# how Debian's ${info.core.cc} finds its C library; empty it for a toolchain with its own\nLIBC_FLAGS = ${info.core.libcFlags.join(' ')}`
          : '\nLIBC_FLAGS ='
      }`
    : `CC ?= cc
AR ?= ar
CORE_FLAGS =
LIBC_FLAGS =`;
  return `${hashComment(info, cross ? 'make: libllama2_embed.a' : 'make: libllama2_embed.a, and the example examples/generate/generate.')}
${compiler}
CFLAGS ?= -std=c99 -O2 -Wall -Wextra
# llama2.c's float32 results need these, whatever CFLAGS says
CFLAGS += $(CORE_FLAGS) $(LIBC_FLAGS) ${EXACT_FLOAT_FLAGS.join(' ')} -Iinclude
LDLIBS ?= -lm
OBJECTS = ${objects}

all: libllama2_embed.a${cross ? '' : ' examples/generate/generate'}

libllama2_embed.a: $(OBJECTS)
\t$(AR) rcs $@ $(OBJECTS)

src/%.o: src/%.c src/*.h include/llama2_embed.h
\t$(CC) $(CFLAGS) -c -o $@ $<

examples/generate/generate: examples/generate/main.c libllama2_embed.a
\t$(CC) $(CFLAGS) -o $@ examples/generate/main.c libllama2_embed.a $(LDLIBS)

clean:
\trm -f $(OBJECTS) libllama2_embed.a examples/generate/generate

.PHONY: all clean
`;
}

function cmakeLists(info: PackageInfo): string {
  return `${hashComment(info, 'CMake: the static library llama2_embed, and the example (option LLAMA2_EMBED_EXAMPLES).')}
cmake_minimum_required(VERSION 3.13)
project(llama2_embed VERSION ${info.version} LANGUAGES C)

add_library(llama2_embed STATIC
${info.sources.map((s) => `  src/${s}`).join('\n')}
)
target_include_directories(llama2_embed PUBLIC include PRIVATE src)
set_target_properties(llama2_embed PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
# llama2.c's float32 results need these
target_compile_options(llama2_embed PRIVATE ${EXACT_FLOAT_FLAGS.join(' ')})
find_library(LLAMA2_EMBED_LIBM m)
if(LLAMA2_EMBED_LIBM)
  target_link_libraries(llama2_embed PUBLIC \${LLAMA2_EMBED_LIBM})
endif()

if(CMAKE_SOURCE_DIR STREQUAL PROJECT_SOURCE_DIR)
  option(LLAMA2_EMBED_EXAMPLES "build examples/generate" ON)
else()
  option(LLAMA2_EMBED_EXAMPLES "build examples/generate" OFF)
endif()
if(LLAMA2_EMBED_EXAMPLES)
  add_executable(generate examples/generate/main.c)
  target_link_libraries(generate PRIVATE llama2_embed)
endif()
`;
}

export const cFormat: LibraryFormat = {
  name: 'c',
  description: 'plain C99: include/, src/, a Makefile and a CMake static library',
  includeDir: 'include',
  srcDir: 'src',
  packageFiles: (info) => ({
    Makefile: makefile(info),
    'CMakeLists.txt': cmakeLists(info),
    'examples/generate/main.c': hostExample(),
  }),
};
