(module
 (type $0 (func (param i64) (result i64)))
 (type $1 (func (param i64 i64) (result i64)))
 (type $2 (func (param i64)))
 (import "env" "host_free" (func $fimport$0 (param i64)))
 (import "env" "host_calloc" (func $fimport$1 (param i64 i64) (result i64)))
 (import "env" "host_realloc" (func $fimport$2 (param i64 i64) (result i64)))
 (import "env" "host_malloc" (func $fimport$3 (param i64) (result i64)))
 (global $hostalloc$heap_base i64 (i64.const 1040))
 (global $hostalloc$abi i32 (i32.const 2))
 (global $hostalloc$align i32 (i32.const 16))
 (memory $mem i64 2)
 (data $0 (i64.const 1024) "\00\08\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
 (export "run" (func $run))
 (export "memory" (memory $mem))
 (export "__heap_base" (global $hostalloc$heap_base))
 (export "__hostalloc_abi" (global $hostalloc$abi))
 (export "__hostalloc_align" (global $hostalloc$align))
 (export "__hostalloc_grow" (func $hostalloc$grow))
 (func $run (param $n i64) (result i64)
  (local $p i64)
  (local.set $p
   (call $fimport$1
    (i64.const 2)
    (local.get $n)
   )
  )
  (i64.store
   (local.get $p)
   (local.get $n)
  )
  (local.set $p
   (call $fimport$2
    (local.get $p)
    (i64.const 64)
   )
  )
  (call $fimport$0
   (local.get $p)
  )
  (local.get $p)
 )
 (func $hostalloc$grow (param $0 i64) (result i64)
  (memory.grow
   (local.get $0)
  )
 )
 ;; custom section "hostalloc", size 84, contents: "{\"abi\":2,\"align\":16,\"heapBase\":\"estimated\",\"heapBaseValue\":1040,\"dataEnd\":\"unknown\"}"
)
