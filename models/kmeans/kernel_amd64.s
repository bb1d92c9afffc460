//go:build amd64 && !purego

#include "textflag.h"

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// func dist8AVX2(x, c, out *float32, n, d int)
//
// For rows i < n (n a multiple of 4, d ≥ 1) of the row-major n×d matrix at
// x, and the eight centres stored feature-major at c (c[j*8+l] is feature j
// of centre l), writes out[i*8+l] = Σ_j (x[i*d+j] - c[j*8+l])², summed in
// feature order with one fused multiply-add per feature. Four rows share
// each load of a centre column.
TEXT ·dist8AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ c+8(FP), DX
	MOVQ out+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ d+32(FP), BX
	MOVQ BX, R8
	SHLQ $2, R8 // row stride in bytes

rows4:
	CMPQ CX, $4
	JL   done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ SI, R9
	LEAQ (SI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	MOVQ DX, R13
	MOVQ BX, AX

feat:
	VMOVUPS      (R13), Y4
	VBROADCASTSS (R9), Y5
	VBROADCASTSS (R10), Y6
	VBROADCASTSS (R11), Y7
	VBROADCASTSS (R12), Y8
	VSUBPS       Y4, Y5, Y5
	VSUBPS       Y4, Y6, Y6
	VSUBPS       Y4, Y7, Y7
	VSUBPS       Y4, Y8, Y8
	VFMADD231PS  Y5, Y5, Y0
	VFMADD231PS  Y6, Y6, Y1
	VFMADD231PS  Y7, Y7, Y2
	VFMADD231PS  Y8, Y8, Y3
	ADDQ         $4, R9
	ADDQ         $4, R10
	ADDQ         $4, R11
	ADDQ         $4, R12
	ADDQ         $32, R13
	DECQ         AX
	JNZ          feat

	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, DI
	LEAQ    (SI)(R8*4), SI
	SUBQ    $4, CX
	JMP     rows4

done:
	VZEROUPPER
	RET

// EPILOGUE finds, for the distances in acc (eight centres), the first lane
// holding the minimum m and writes it to dst+off, or -1 when more than one
// lane is ≤ lim = (√m·a + xn·b + c)², a, b, c the low lanes of X12, X13,
// X14 and xn the float32 at xnoff(R11).
#define EPILOGUE(acc, accx, xnoff, off) \
	VEXTRACTF128 $1, acc, X9         \
	VMINPS       X9, accx, X9        \
	VPERMILPS    $0x4E, X9, X10      \
	VMINPS       X10, X9, X9         \
	VPERMILPS    $0xB1, X9, X10      \
	VMINPS       X10, X9, X9         \
	VSQRTSS      X9, X9, X10         \
	VMULSS       X12, X10, X10       \
	VMOVSS       xnoff(R11), X11     \
	VFMADD231SS  X13, X11, X10       \
	VADDSS       X14, X10, X10       \
	VMULSS       X10, X10, X10       \
	VBROADCASTSS X10, Y10            \
	VBROADCASTSS X9, Y9              \
	VCMPPS       $2, Y10, acc, Y11   \
	VMOVMSKPS    Y11, R12            \
	VCMPPS       $0, Y9, acc, Y11    \
	VMOVMSKPS    Y11, AX             \
	BSFL         AX, AX              \
	LEAL         -1(R12), R13        \
	MOVL         $-1, R9             \
	TESTL        R12, R13            \
	CMOVLNE      R9, AX              \
	MOVL         AX, off(DI)

// func assign8AVX2(x, c, xn *float32, dst *int32, n, d int, a, b, cc float32)
//
// For rows i < n (n a multiple of 4, d ≥ 1) of the row-major n×d matrix at
// x and the eight centres at c (feature-major, as dist8AVX2), writes to
// dst[i] the centre whose float32 squared distance is smallest (the first
// such), or -1 when another centre's distance is within the bound
// (√m·a + xn[i]·b + cc)² of the minimum m.
TEXT ·assign8AVX2(SB), NOSPLIT, $0-60
	MOVQ         x+0(FP), SI
	MOVQ         c+8(FP), DX
	MOVQ         xn+16(FP), R11
	MOVQ         dst+24(FP), DI
	MOVQ         n+32(FP), CX
	MOVQ         d+40(FP), BX
	VMOVSS       a+48(FP), X12
	VMOVSS       b+52(FP), X13
	VMOVSS       cc+56(FP), X14
	MOVQ         BX, R8
	SHLQ         $2, R8           // row stride in bytes
	LEAQ         (R8)(R8*2), R10  // three rows

arows4:
	CMPQ   CX, $4
	JL     adone
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   SI, R9
	MOVQ   DX, R13
	MOVQ   BX, AX

afeat:
	VMOVUPS      (R13), Y4
	VBROADCASTSS (R9), Y5
	VBROADCASTSS (R9)(R8*1), Y6
	VBROADCASTSS (R9)(R8*2), Y7
	VBROADCASTSS (R9)(R10*1), Y8
	VSUBPS       Y4, Y5, Y5
	VSUBPS       Y4, Y6, Y6
	VSUBPS       Y4, Y7, Y7
	VSUBPS       Y4, Y8, Y8
	VFMADD231PS  Y5, Y5, Y0
	VFMADD231PS  Y6, Y6, Y1
	VFMADD231PS  Y7, Y7, Y2
	VFMADD231PS  Y8, Y8, Y3
	ADDQ         $4, R9
	ADDQ         $32, R13
	DECQ         AX
	JNZ          afeat

	EPILOGUE(Y0, X0, 0, 0)
	EPILOGUE(Y1, X1, 4, 4)
	EPILOGUE(Y2, X2, 8, 8)
	EPILOGUE(Y3, X3, 12, 12)
	ADDQ $16, DI
	ADDQ $16, R11
	LEAQ (SI)(R8*4), SI
	SUBQ $4, CX
	JMP  arows4

adone:
	VZEROUPPER
	RET
