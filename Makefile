# dunseg developer entry points. Every target creates .venv on first use
# (Python 3.11, CPU; torch 2.14.1 CUDA build, which also runs on CPU) and
# reuses it afterwards.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.dunseg-installed
RPCANET_CONFIG ?= configs/rpcanet/rpcanet-plus_k6b4_0.5k_synthetic-sirst-128x128.py
DEMO_DIR ?= work_dirs/nun_demo
export HF_HUB_OFFLINE := 1

.PHONY: install lint test test-all test-isa demo demo-rpcanet demo-vlunet demo-run demo-vldun clean-venv

install: $(STAMP)

$(STAMP): setup.py requirements/runtime.txt requirements/tests.txt requirements/clip.txt \
		requirements/cod.txt requirements/medical.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -r requirements/runtime.txt -r requirements/tests.txt \
		-r requirements/clip.txt -r requirements/cod.txt -r requirements/medical.txt
	# pysodmetrics' pins would downgrade numpy/scikit-image/OpenCV (requirements/cod.txt)
	$(PY) -m pip install --quiet --no-deps pysodmetrics==1.6.2
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The fast tier: every registered component built and run at tiny size,
# every metric and loader, the engine's failure paths (under 5 minutes on 2
# cores). Tests marked slow (end-to-end trainings, tool subprocesses, full-size
# models) run in test-all.
test: $(STAMP)
	$(PY) -m pytest tests -q -p no:cacheprovider -m "not slow" --durations=15

# Everything; what CI runs (.ci/run), with lint and test-isa.
test-all: $(STAMP)
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=25

# The fast tier once more with oneDNN held to AVX2 and one thread: other
# kernels, other summation orders, as on another processor. A test that
# asserts bit-equality across two code paths fails here, not on a user's CPU.
test-isa: $(STAMP)
	ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(PY) -m pytest tests -q -p no:cacheprovider -m "not slow"

lint: $(STAMP)
	$(PY) -m ruff check .

# NUN on the embedded data: tiny DA-CLIP prior, NUN-tiny on degraded
# SyntheticCOD scenes, test (COD metrics per set, restorations vs input), demo.
demo: $(STAMP)
	bash demo/embedded/nun.sh $(PY) $(DEMO_DIR)

# Train RPCANet+ on the embedded synthetic infrared dataset, test it against
# the classical top-hat baseline, and run the demo on a sample image.
demo-rpcanet: $(STAMP)
	bash demo/embedded/rpcanet.sh $(PY) $(RPCANET_CONFIG) work_dirs/rpcanet_demo

# The VLU-Net recipe on embedded synthetic degradations: CLIP adapter tuning,
# VLU-Net training, test (PSNR/SSIM per degradation) and the demo.
demo-vlunet: $(STAMP)
	bash demo/embedded/vlunet.sh $(PY) work_dirs/vlunet_demo

# RUN-tiny against the FPN encoder-decoder of its size (same encoder, data and
# schedule) on SyntheticCOD scenes: train both, test both on the clean split
# and four degradations (S_alpha / MAE side by side), demo on a low-light scene.
demo-run: $(STAMP)
	bash demo/embedded/run.sh $(PY) work_dirs/run_demo

# VL-DUN on the embedded phantoms: tiny CLIP dual prior, VL-DUN-tiny with it
# and the U-Net of its size, test (PSNR / SSIM beside the zero-filled input,
# Dice) and the demo on pydicom's CT_small.dcm, radially undersampled.
demo-vldun: $(STAMP)
	bash demo/embedded/vldun.sh $(PY) work_dirs/vldun_demo

clean-venv:
	rm -rf $(VENV)
