# dunseg developer entry points. Every target creates .venv on first use
# (Python 3.11, CPU; torch 2.14.1 CUDA build, which also runs on CPU) and
# reuses it afterwards.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.dunseg-installed
RPCANET_CONFIG ?= configs/rpcanet/rpcanet-plus_k6b4_synthetic-sirst-128x128.py
DEMO_DIR ?= work_dirs/nun_demo
export HF_HUB_OFFLINE := 1

.PHONY: install test demo demo-rpcanet demo-vlunet clean-venv

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

test: $(STAMP)
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=15

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

clean-venv:
	rm -rf $(VENV)
