/* Two threads summing one 64M float64 array (eight AVX2 lanes, as lpi_sum8): each thread
 * streaming a contiguous half against both taking chunks from one shared counter (as Lampy's
 * ready queue hands them out), at three chunk sizes; best of 9. An experiment for
 * docs/PERFORMANCE.md (thread placement), not part of `make bench`:
 *     gcc -O3 -o /tmp/read_placement bench/read_placement.c -lpthread && /tmp/read_placement */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
__attribute__((noinline,target("avx2"))) double sum8a(const double *x, int64_t n){double s[8]={0};int64_t i=0;for(;i+8<=n;i+=8)for(int j=0;j<8;j++)s[j]+=x[i+j];return ((s[0]+s[1])+(s[2]+s[3]))+((s[4]+s[5])+(s[6]+s[7]));}
static const double *X; static int64_t N, CH; static int MODE; static atomic_long next;
static void* run(void*p){long k=(long)p; double r=0; int64_t nch=(N+CH-1)/CH;
  if(MODE==0){ /* contiguous halves */ int64_t lo=k*(nch/2), hi=k?nch:nch/2; for(int64_t c=lo;c<hi;c++) r+=sum8a(X+c*CH,CH);}
  else { /* shared queue: interleaved */ for(;;){int64_t c=atomic_fetch_add(&next,1); if(c>=nch)break; r+=sum8a(X+c*CH,CH);} }
  return (void*)(long)(r>0);}
int main(){N=64<<20; double*x=aligned_alloc(4096,N*8); for(int64_t i=0;i<N;i++)x[i]=i&1023; X=x;
 int64_t chs[3]={262144,2097152,32768}; double best[3][2];
 for(int a=0;a<3;a++)for(int m=0;m<2;m++)best[a][m]=1e9;
 for(int r=0;r<9;r++)for(int a=0;a<3;a++)for(int m=0;m<2;m++){CH=chs[a];MODE=m;next=0;pthread_t th[2];double t0=now();
   for(long k=0;k<2;k++)pthread_create(&th[k],0,run,(void*)k); for(int k=0;k<2;k++)pthread_join(th[k],0); double t=now()-t0; if(t<best[a][m])best[a][m]=t;}
 for(int a=0;a<3;a++)for(int m=0;m<2;m++)printf("chunk %7ld el %-11s %.1f ms %.1f GB/s\n",(long)chs[a],m?"interleaved":"halves",best[a][m]*1e3,N*8/best[a][m]/1e9);}
