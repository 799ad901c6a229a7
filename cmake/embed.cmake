# cmake -DIN=FILE -DOUT=FILE.c -DNAME=SYMBOL -P embed.cmake: FILE's bytes as
# a C array, `const unsigned char SYMBOL[]` and `const size_t SYMBOL_len`,
# so that a file kept as itself in the tree (the status page) is compiled in.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Sixteen bytes a line.
string(REGEX REPLACE "((0x..,){16})" "\\1\n\t" bytes "${bytes}")
get_filename_component(src "${IN}" NAME)
file(WRITE "${OUT}.new" "/* Generated from ${src} by cmake/embed.cmake: edit ${src}. */\n"
  "#include <stddef.h>\n\n"
  "const unsigned char ${NAME}[] = {\n\t${bytes}\n};\n"
  "const size_t ${NAME}_len = ${len};\n")
# Replaced only when changed, so that an unchanged page recompiles nothing.
configure_file("${OUT}.new" "${OUT}" COPYONLY)
file(REMOVE "${OUT}.new")
