(module
 (type $0 (func (param i32) (result i32)))
 (type $1 (func (param i32)))
 (import "env" "host_malloc" (func $host_malloc (param i32) (result i32)))
 (import "env" "host_free" (func $host_free (param i32)))
 (global $heap_base i32 (i32.const 2048))
 (global $abi i32 (i32.const 1))
 (global $hostalloc$abi i32 (i32.const 2))
 (global $hostalloc$align i32 (i32.const 16))
 (memory $mem 2)
 (export "run" (func $run))
 (export "memory" (memory $mem))
 (export "__heap_base" (global $heap_base))
 (export "__hostalloc_abi" (global $hostalloc$abi))
 (export "__hostalloc_align" (global $hostalloc$align))
 (export "__hostalloc_grow" (func $hostalloc$grow))
 (func $run (param $n i32) (result i32)
  (local $p i32)
  (local.set $p
   (call $host_malloc
    (local.get $n)
   )
  )
  (i32.store
   (local.get $p)
   (local.get $n)
  )
  (call $host_free
   (local.get $p)
  )
  (local.get $p)
 )
 (func $hostalloc$grow (param $0 i32) (result i32)
  (memory.grow
   (local.get $0)
  )
 )
 ;; custom section "hostalloc", size 80, contents: "{\"abi\":2,\"align\":16,\"heapBase\":\"exact\",\"heapBaseValue\":2048,\"dataEnd\":\"unknown\"}"
)
