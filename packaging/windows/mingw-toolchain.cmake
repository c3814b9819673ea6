# CMake toolchain for the Windows build: x86-64, static, mingw-w64 with posix threads
# (std::thread and std::mutex work), libraries from the sysroot that
# scripts/windows-sysroot builds from Debian's source packages.
#   cmake -DCMAKE_TOOLCHAIN_FILE=packaging/windows/mingw-toolchain.cmake \
#         -DKEYHOLDER_WINDOWS_SYSROOT=/var/cache/keyholder-ci/windows-sysroot-KEY ...
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
# Poco's Foundation compiles its message file with the message compiler.
set(CMAKE_MC_COMPILER x86_64-w64-mingw32-windmc)

# The sysroot comes as a cache variable or from the environment (try_compile runs
# read the toolchain again without the command line's cache).
if(NOT KEYHOLDER_WINDOWS_SYSROOT AND DEFINED ENV{KEYHOLDER_WINDOWS_SYSROOT})
  set(KEYHOLDER_WINDOWS_SYSROOT "$ENV{KEYHOLDER_WINDOWS_SYSROOT}")
endif()
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32 ${KEYHOLDER_WINDOWS_SYSROOT})
set(CMAKE_PREFIX_PATH ${KEYHOLDER_WINDOWS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# One self-contained .exe: no libstdc++/libgcc/winpthread DLLs beside it.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
